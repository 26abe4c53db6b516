-- Records job $3 as schedule $2's latest.
UPDATE spindle.schedules
SET last_job_id = $3, last_enqueued_at = coalesce($1, now())
WHERE name = $2
