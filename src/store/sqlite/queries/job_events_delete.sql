-- The history of deleted job ?1 (PostgreSQL deletes it by ON DELETE CASCADE).
DELETE FROM spindle_job_events WHERE job_id = ?1
