-- The waiting jobs of fair queue ?1 that have no virtual start time (enqueued before the queue
-- was declared fair) get the queue's clock: they go first, in fifo order.
UPDATE spindle_jobs
SET fair_key = coalesce(CAST(json_extract(args, '$.' || q.fair_key) AS TEXT), ''),
    fair_vt = q.fair_clock
FROM spindle_queues q
WHERE q.name = ?1 AND q.fair_key IS NOT NULL AND spindle_jobs.queue = q.name
  AND spindle_jobs.fair_vt IS NULL
  AND spindle_jobs.state IN ('scheduled', 'available', 'retryable')
