-- Fair shares (docs/regulation.md, "Fair shares"), as on PostgreSQL (its 018_fair.sql says how):
-- each job of a queue with a fairness key gets its tenant and a virtual start time as it is
-- inserted (job_fair_stamp.sql, which the store runs after inserting such a job: a trigger would
-- cost every insert a look-up of its queue), the fetch takes them by (priority, fair_vt), and
-- as a fair fetch leases jobs the store moves the clocks of their queue and priority
-- (queue_fair_clock.sql; a trigger would cost every change of a job's state its check).
ALTER TABLE spindle_queues ADD COLUMN fair_key TEXT;      -- a path into the args; NULL: not fair
ALTER TABLE spindle_queues ADD COLUMN fair_weights TEXT;  -- {"tenant": weight}; others weigh 1
CREATE TABLE spindle_fair_clocks (
  queue    TEXT NOT NULL,
  priority INTEGER NOT NULL,
  clock    REAL NOT NULL,
  PRIMARY KEY (queue, priority)
);
ALTER TABLE spindle_jobs ADD COLUMN fair_key TEXT;
ALTER TABLE spindle_jobs ADD COLUMN fair_vt REAL;

CREATE INDEX spindle_jobs_fair_idx ON spindle_jobs (queue, priority, fair_vt, run_at, id)
  WHERE fair_vt IS NOT NULL AND state IN ('scheduled', 'available', 'retryable')
    AND NOT serial_held AND gate_wait IS NULL;
CREATE INDEX spindle_jobs_fair_tenant_idx ON spindle_jobs (queue, fair_key, priority, fair_vt)
  WHERE fair_vt IS NOT NULL AND state IN ('scheduled', 'available', 'retryable');
