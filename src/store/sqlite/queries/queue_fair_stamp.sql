-- The waiting jobs of fair queue ?1 that have no virtual start time (enqueued before the queue
-- was declared fair) get times, each tenant's in enqueue order (by id) after its stamped jobs
-- at their priority or the clock of their priority, whichever is later, as on PostgreSQL (its
-- queue_fair_stamp.sql).
UPDATE spindle_jobs
SET fair_key = s.tenant, fair_vt = s.vt
FROM (SELECT t.id, t.tenant,
             max(t.clock, coalesce(t.last, t.clock))
               + row_number() OVER (PARTITION BY t.tenant, t.priority ORDER BY t.id)
                 / coalesce((SELECT w.value FROM json_each(t.fair_weights) w
                             WHERE w.key = t.tenant), 1.0) AS vt
      FROM (SELECT k.*,
                   (SELECT max(o.fair_vt) FROM spindle_jobs o
                    WHERE o.queue = ?1 AND o.fair_key = k.tenant AND o.priority = k.priority
                      AND o.fair_vt IS NOT NULL
                      AND o.state IN ('scheduled', 'available', 'retryable')) AS last
            FROM (SELECT o.id, o.priority, q.fair_weights,
                         coalesce(CAST(json_extract(o.args, '$.' || q.fair_key) AS TEXT), '')
                           AS tenant,
                         coalesce((SELECT c.clock FROM spindle_fair_clocks c
                                   WHERE c.queue = o.queue AND c.priority = o.priority), 0)
                           AS clock
                  FROM spindle_jobs o JOIN spindle_queues q ON q.name = o.queue
                  WHERE q.name = ?1 AND q.fair_key IS NOT NULL AND o.fair_vt IS NULL
                    AND o.state IN ('scheduled', 'available', 'retryable')) k) t) s
WHERE spindle_jobs.id = s.id AND spindle_jobs.fair_vt IS NULL
