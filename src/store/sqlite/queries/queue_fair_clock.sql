-- A fetch of fair queue ?1 leased the jobs whose ids are the JSON array ?2: the queue's clock
-- moves up to the latest of their virtual start times (migration 018).
UPDATE spindle_queues
SET fair_clock = max(fair_clock, coalesce((SELECT max(fair_vt) FROM spindle_jobs
                                           WHERE id IN (SELECT value FROM json_each(?2))), 0))
WHERE name = ?1
