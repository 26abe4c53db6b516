-- Deadlines (docs/jobs.md, "Deadlines"), as PostgreSQL's 011_deadlines.sql: a job's soft
-- deadline and firm expiry (microseconds since the epoch), the partial indexes of the
-- earliest-deadline-first fetch and of the expirer, a queue's dispatch settings, and each kind's
-- measured run time and missed and expired counts.
ALTER TABLE spindle_jobs ADD COLUMN deadline INTEGER;
ALTER TABLE spindle_jobs ADD COLUMN expires_at INTEGER;

CREATE INDEX spindle_jobs_deadline_idx ON spindle_jobs (queue, priority, deadline, run_at, id)
  WHERE deadline IS NOT NULL AND state IN ('scheduled', 'available', 'retryable');
CREATE INDEX spindle_jobs_expires_idx ON spindle_jobs (expires_at)
  WHERE expires_at IS NOT NULL AND state IN ('scheduled', 'available', 'retryable');

ALTER TABLE spindle_queues ADD COLUMN ordering TEXT NOT NULL DEFAULT 'fifo'
  CHECK (ordering IN ('fifo', 'deadline'));
ALTER TABLE spindle_queues ADD COLUMN shed INTEGER NOT NULL DEFAULT 0;

CREATE TABLE spindle_kind_stats (
  kind        TEXT PRIMARY KEY,
  estimate_ms INTEGER CHECK (estimate_ms >= 0),
  samples     INTEGER NOT NULL DEFAULT 0,
  missed      INTEGER NOT NULL DEFAULT 0,
  expired     INTEGER NOT NULL DEFAULT 0,
  updated_at  INTEGER NOT NULL
);
