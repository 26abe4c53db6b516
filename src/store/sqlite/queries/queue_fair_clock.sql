-- A fair fetch leased the jobs whose ids are the JSON array ?1: the clock of each of their
-- queues and priorities moves up to the latest of their virtual start times (migration 018).
INSERT INTO spindle_fair_clocks (queue, priority, clock)
SELECT queue, priority, max(fair_vt) FROM spindle_jobs
WHERE id IN (SELECT value FROM json_each(?1)) AND fair_vt IS NOT NULL
GROUP BY queue, priority
ON CONFLICT (queue, priority) DO UPDATE SET clock = max(clock, excluded.clock)
