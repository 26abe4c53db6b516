-- Every queue with jobs or paused: its pause time and its jobs by state (one row per queue and
-- state; state NULL for a paused queue without jobs). A resumed queue keeps its row (paused_at
-- NULL) and is listed only while it has jobs, unless it is fair. Then its dispatch settings (queue_register.sql),
-- and for available jobs the run_at of the oldest (how long it waits). The counts are kept by
-- the triggers of migration 024: the folded ones plus the changes not folded yet.
SELECT coalesce(j.queue, q.name), q.paused_at, j.state, coalesce(j.n, 0),
       coalesce(q.ordering, 'fifo'), coalesce(q.shed, false), q.fair_key, q.fair_weights,
       (SELECT run_at FROM spindle.jobs a
        WHERE j.state = 'available' AND a.queue = j.queue AND a.state = 'available'
        ORDER BY run_at LIMIT 1)
FROM (SELECT queue, state::text, sum(n) AS n
      FROM (SELECT queue, state, n FROM spindle.job_counts
            UNION ALL SELECT queue, state, n FROM spindle.job_count_changes) c
      GROUP BY queue, state HAVING sum(n) <> 0) j
FULL JOIN spindle.queues q ON q.name = j.queue
WHERE j.queue IS NOT NULL OR q.paused_at IS NOT NULL OR q.fair_key IS NOT NULL
-- Not "ORDER BY 1 COLLATE ...": with COLLATE the 1 is a constant, not the first column.
ORDER BY coalesce(j.queue, q.name) COLLATE "C", j.state
