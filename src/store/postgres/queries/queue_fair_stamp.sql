-- The waiting jobs of fair queues $1 (text[]) that have no virtual start time (enqueued before
-- the queue was declared fair) get the queue's clock: they go first, in fifo order.
UPDATE spindle.jobs j
SET fair_key = coalesce(j.args #>> string_to_array(q.fair_key, '.'), ''), fair_vt = q.fair_clock
FROM spindle.queues q
WHERE q.name = ANY ($1::text[]) AND q.fair_key IS NOT NULL AND j.queue = q.name
  AND j.fair_vt IS NULL AND j.state IN ('scheduled', 'available', 'retryable')
