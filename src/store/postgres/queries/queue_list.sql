-- Every queue with jobs or paused: its pause time and its jobs by state (one row per queue and
-- state; state NULL for a paused queue without jobs). A resumed queue keeps its row (paused_at
-- NULL) and is listed only while it has jobs, unless it is fair. Then its dispatch settings (queue_register.sql),
-- and the run_at of its oldest job in the row's state (for available jobs: how long the oldest waits).
SELECT coalesce(j.queue, q.name), q.paused_at, j.state, coalesce(j.n, 0),
       coalesce(q.ordering, 'fifo'), coalesce(q.shed, false), q.fair_key, q.fair_weights, j.oldest
FROM (SELECT queue, state::text, count(*) AS n, min(run_at) AS oldest FROM spindle.jobs
      GROUP BY queue, state) j
FULL JOIN spindle.queues q ON q.name = j.queue
WHERE j.queue IS NOT NULL OR q.paused_at IS NOT NULL OR q.fair_key IS NOT NULL
-- Not "ORDER BY 1 COLLATE ...": with COLLATE the 1 is a constant, not the first column.
ORDER BY coalesce(j.queue, q.name) COLLATE "C", j.state
