-- The waiting jobs of fair queue ?1 that have no virtual start time (enqueued before the queue
-- was declared fair) get times from the queue's clock on, each tenant's in enqueue order, as on
-- PostgreSQL (its queue_fair_stamp.sql).
UPDATE spindle_jobs
SET fair_key = s.tenant, fair_vt = s.vt
FROM (SELECT t.id, t.tenant,
             t.fair_clock + row_number() OVER (PARTITION BY t.tenant, t.priority ORDER BY t.run_at, t.id)
                            / coalesce((SELECT w.value FROM json_each(t.fair_weights) w
                                        WHERE w.key = t.tenant), 1.0) AS vt
      FROM (SELECT o.id, o.run_at, o.priority, q.fair_clock, q.fair_weights,
                   coalesce(CAST(json_extract(o.args, '$.' || q.fair_key) AS TEXT), '') AS tenant
            FROM spindle_jobs o JOIN spindle_queues q ON q.name = o.queue
            WHERE q.name = ?1 AND q.fair_key IS NOT NULL AND o.fair_vt IS NULL
              AND o.state IN ('scheduled', 'available', 'retryable')) t) s
WHERE spindle_jobs.id = s.id
