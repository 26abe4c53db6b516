-- Records job ?3 as schedule ?2's latest.
UPDATE spindle_schedules SET last_job_id = ?3, last_enqueued_at = ?1 WHERE name = ?2
