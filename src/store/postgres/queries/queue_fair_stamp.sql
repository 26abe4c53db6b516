-- The waiting jobs of fair queues $1 (text[]) that have no virtual start time (enqueued before
-- the queue was declared fair) get times, each tenant's in enqueue order (by id) after its
-- stamped jobs at their priority or the clock of their priority, whichever is later.
UPDATE spindle.jobs j
SET fair_key = s.tenant, fair_vt = s.vt
FROM (SELECT k.id, k.tenant,
             greatest(k.clock,
                      (SELECT max(o.fair_vt) FROM spindle.jobs o
                       WHERE o.queue = k.queue AND o.fair_key = k.tenant
                         AND o.priority = k.priority AND o.fair_vt IS NOT NULL
                         AND o.state IN ('scheduled', 'available', 'retryable')))
               + row_number() OVER (PARTITION BY k.queue, k.tenant, k.priority ORDER BY k.id)
                 / k.weight AS vt
      FROM (SELECT o.id, o.queue, o.priority, t.tenant,
                   coalesce((q.fair_weights ->> t.tenant)::double precision, 1) AS weight,
                   coalesce((SELECT c.clock FROM spindle.fair_clocks c
                             WHERE c.queue = o.queue AND c.priority = o.priority), 0) AS clock
            FROM spindle.jobs o
            JOIN spindle.queues q ON q.name = o.queue
            CROSS JOIN LATERAL
              (SELECT coalesce(o.args #>> string_to_array(q.fair_key, '.'), '') AS tenant) t
            WHERE q.name = ANY ($1::text[]) AND q.fair_key IS NOT NULL AND o.fair_vt IS NULL
              AND o.state IN ('scheduled', 'available', 'retryable')) k) s
WHERE j.id = s.id AND j.fair_vt IS NULL AND j.state IN ('scheduled', 'available', 'retryable')
