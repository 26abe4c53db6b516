-- Fair shares (docs/regulation.md, "Fair shares"), as on PostgreSQL (its 018_fair.sql says how):
-- each job of a queue with a fairness key gets its tenant and a virtual start time as it is
-- inserted, the fetch takes them by (priority, fair_vt), and a lease moves the queue's clock.
-- Triggers for single rows: SQLite has one writer, so a batch's jobs are stamped in turn. A
-- tenant's last waiting job is its last one due at the same priority, as there.
ALTER TABLE spindle_queues ADD COLUMN fair_key TEXT;      -- a path into the args; NULL: not fair
ALTER TABLE spindle_queues ADD COLUMN fair_weights TEXT;  -- {"tenant": weight}; others weigh 1
ALTER TABLE spindle_queues ADD COLUMN fair_clock REAL NOT NULL DEFAULT 0;
ALTER TABLE spindle_jobs ADD COLUMN fair_key TEXT;
ALTER TABLE spindle_jobs ADD COLUMN fair_vt REAL;

CREATE INDEX spindle_jobs_fair_idx ON spindle_jobs (queue, priority, fair_vt, run_at, id)
  WHERE fair_vt IS NOT NULL AND state IN ('scheduled', 'available', 'retryable')
    AND NOT serial_held AND gate_wait IS NULL;
CREATE INDEX spindle_jobs_fair_tenant_idx ON spindle_jobs (queue, fair_key, priority, fair_vt)
  WHERE fair_vt IS NOT NULL AND state IN ('scheduled', 'available', 'retryable');

CREATE TRIGGER spindle_jobs_fair_stamped AFTER INSERT ON spindle_jobs
WHEN (SELECT fair_key FROM spindle_queues WHERE name = NEW.queue) IS NOT NULL
BEGIN
  UPDATE spindle_jobs
  SET (fair_key, fair_vt) = (
    SELECT t.tenant,
           max(q.fair_clock,
               coalesce((SELECT max(o.fair_vt) FROM spindle_jobs o
                         WHERE o.queue = NEW.queue AND o.fair_key = t.tenant
                           AND o.priority = NEW.priority AND o.fair_vt IS NOT NULL
                           AND o.state IN ('scheduled', 'available', 'retryable')
                           AND o.run_at <= NEW.created_at),
                        q.fair_clock))
             + 1.0 / coalesce((SELECT w.value FROM json_each(q.fair_weights) w
                               WHERE w.key = t.tenant), 1)
    FROM spindle_queues q,
         (SELECT coalesce(CAST(json_extract(NEW.args, '$.' || k.fair_key) AS TEXT), '') AS tenant
          FROM spindle_queues k WHERE k.name = NEW.queue) t
    WHERE q.name = NEW.queue)
  WHERE id = NEW.id;
END;

CREATE TRIGGER spindle_jobs_fair_clocked AFTER UPDATE OF state ON spindle_jobs
WHEN NEW.fair_vt IS NOT NULL AND NEW.state = 'running' AND OLD.state <> 'running'
BEGIN
  UPDATE spindle_queues SET fair_clock = NEW.fair_vt
  WHERE name = NEW.queue AND fair_clock < NEW.fair_vt;
END;
