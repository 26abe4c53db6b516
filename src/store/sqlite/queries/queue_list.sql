-- Every queue with jobs, paused or fair: its pause time and its jobs by state (one row per queue and
-- state; state NULL for a paused queue without jobs), by name in byte order, and its dispatch
-- settings (queue_register.sql), and for available jobs the run_at of the oldest (how long it
-- waits). The counts are kept by the triggers of migration 024.
WITH j AS (SELECT queue, state, n FROM spindle_job_counts WHERE n <> 0),
names AS (SELECT queue AS name FROM j
          UNION SELECT name FROM spindle_queues
          WHERE paused_at IS NOT NULL OR fair_key IS NOT NULL)
SELECT names.name, q.paused_at, j.state, coalesce(j.n, 0), coalesce(q.ordering, 'fifo'),
       coalesce(q.shed, 0), q.fair_key, q.fair_weights,
       (SELECT run_at FROM spindle_jobs a
        WHERE j.state = 'available' AND a.queue = j.queue AND a.state = 'available'
        ORDER BY run_at LIMIT 1)
FROM names
LEFT JOIN spindle_queues q ON q.name = names.name
LEFT JOIN j ON j.queue = names.name
ORDER BY 1, 3
