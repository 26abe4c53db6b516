-- Takes slot $2 of schedule $1: moves last_slot forward to it, unless the schedule is paused or
-- the slot (or a later one) was taken already, by this leader or another. The row lock makes
-- racing claims of one slot wait for each other; the loser then matches no row. Returns what
-- the slot's job needs and the state of the schedule's previous job (NULL: none or deleted).
UPDATE spindle.schedules s
SET last_slot = $2
WHERE name = $1 AND NOT paused AND last_slot < $2
RETURNING kind, args, queue, priority, max_attempts, timeout_ms, overrun, last_job_id,
          (SELECT j.state FROM spindle.jobs j WHERE j.id = s.last_job_id)
