-- Every queue with jobs, paused or fair: its pause time and its jobs by state (one row per queue and
-- state; state NULL for a paused queue without jobs), by name in byte order, and its dispatch
-- settings (queue_register.sql), and the run_at of its oldest job in the row's state (for
-- available jobs: how long the oldest waits).
WITH j AS (SELECT queue, state, count(*) AS n, min(run_at) AS oldest FROM spindle_jobs
           GROUP BY queue, state),
names AS (SELECT queue AS name FROM j
          UNION SELECT name FROM spindle_queues
          WHERE paused_at IS NOT NULL OR fair_key IS NOT NULL)
SELECT names.name, q.paused_at, j.state, coalesce(j.n, 0), coalesce(q.ordering, 'fifo'),
       coalesce(q.shed, 0), q.fair_key, q.fair_weights, j.oldest
FROM names
LEFT JOIN spindle_queues q ON q.name = names.name
LEFT JOIN j ON j.queue = names.name
ORDER BY 1, 3
