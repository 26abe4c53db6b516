-- The waiting jobs of fair queues $1 (text[]) that have no virtual start time (enqueued before
-- the queue was declared fair) get times from the queue's clock on, each tenant's in enqueue
-- order: as if they had been enqueued fair, just now.
UPDATE spindle.jobs j
SET fair_key = s.tenant, fair_vt = s.vt
FROM (SELECT o.id, t.tenant,
             q.fair_clock + row_number() OVER (PARTITION BY o.queue, t.tenant, o.priority
                                            ORDER BY o.run_at, o.id)
                            / coalesce((q.fair_weights ->> t.tenant)::double precision, 1) AS vt
      FROM spindle.jobs o
      JOIN spindle.queues q ON q.name = o.queue
      CROSS JOIN LATERAL
        (SELECT coalesce(o.args #>> string_to_array(q.fair_key, '.'), '') AS tenant) t
      WHERE q.name = ANY ($1::text[]) AND q.fair_key IS NOT NULL AND o.fair_vt IS NULL
        AND o.state IN ('scheduled', 'available', 'retryable')) s
WHERE j.id = s.id
