-- The job table and its indexes: the same columns and meaning as PostgreSQL's spindle.jobs.
-- SQLite has no schemas, so Spindle's tables carry the prefix spindle_ and can share a file with
-- the application's own tables (for enqueueing inside its transactions).
-- Times are integers: microseconds since the Unix epoch, UTC.

CREATE TABLE spindle_jobs (
  id               TEXT PRIMARY KEY,
  kind             TEXT NOT NULL CHECK (length(kind) BETWEEN 1 AND 255),
  queue            TEXT NOT NULL DEFAULT 'default' CHECK (length(queue) BETWEEN 1 AND 255),
  args             TEXT NOT NULL DEFAULT '{}' CHECK (json_type(args) = 'object'),
  priority         INTEGER NOT NULL DEFAULT 0,
  run_at           INTEGER NOT NULL,
  state            TEXT NOT NULL DEFAULT 'available' CHECK (state IN (
                     'scheduled', 'available', 'running', 'retryable',
                     'completed', 'failed', 'cancelled', 'stopped', 'expired')),
  attempt          INTEGER NOT NULL DEFAULT 0,
  max_attempts     INTEGER NOT NULL DEFAULT 25 CHECK (max_attempts >= 1),
  timeout_ms       INTEGER CHECK (timeout_ms > 0),
  errors           TEXT NOT NULL DEFAULT '[]',
  created_at       INTEGER NOT NULL,
  started_at       INTEGER,
  finished_at      INTEGER,
  lease_owner      TEXT,
  lease_expires_at INTEGER
);

CREATE INDEX spindle_jobs_fetch_idx ON spindle_jobs (queue, priority, run_at, id)
  WHERE state IN ('scheduled', 'available', 'retryable');
CREATE INDEX spindle_jobs_lease_idx ON spindle_jobs (lease_expires_at) WHERE state = 'running';
CREATE INDEX spindle_jobs_state_idx ON spindle_jobs (state, created_at);
