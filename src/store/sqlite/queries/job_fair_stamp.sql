-- Job ?1, just inserted into a fair queue, gets its tenant and virtual start time, as on
-- PostgreSQL (its migration 018): its tenant's last waiting job due at its priority, plus
-- 1/weight, but no earlier than the clock of its queue and priority plus 1/weight. SQLite has
-- one writer, so the jobs of a batch, stamped one after another, get successive times.
UPDATE spindle_jobs AS j
SET (fair_key, fair_vt) = (
  SELECT t.tenant,
         max(t.clock,
             coalesce((SELECT max(o.fair_vt) FROM spindle_jobs o
                       WHERE o.queue = j.queue AND o.fair_key = t.tenant
                         AND o.priority = j.priority AND o.fair_vt IS NOT NULL
                         AND o.state IN ('scheduled', 'available', 'retryable')
                         AND o.run_at <= j.created_at),
                      t.clock))
           + 1.0 / coalesce((SELECT w.value FROM json_each(t.fair_weights) w
                             WHERE w.key = t.tenant), 1)
  FROM (SELECT coalesce(CAST(json_extract(j.args, '$.' || q.fair_key) AS TEXT), '') AS tenant,
               q.fair_weights,
               coalesce((SELECT c.clock FROM spindle_fair_clocks c
                         WHERE c.queue = j.queue AND c.priority = j.priority), 0) AS clock
        FROM spindle_queues q WHERE q.name = j.queue AND q.fair_key IS NOT NULL) t)
WHERE j.id = ?1
