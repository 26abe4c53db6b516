-- Takes slot ?2 of schedule ?1, as PostgreSQL's schedule_claim.sql (the write lock of
-- BEGIN IMMEDIATE orders racing claims). Returns the slot's job and the previous job's state.
UPDATE spindle_schedules
SET last_slot = ?2
WHERE name = ?1 AND NOT paused AND last_slot < ?2
RETURNING kind, args, queue, priority, max_attempts, timeout_ms, overrun, last_job_id,
          (SELECT j.state FROM spindle_jobs j WHERE j.id = spindle_schedules.last_job_id)
