-- The history entries stored for job ?1, oldest first (migration 007).
SELECT at, type, detail FROM spindle_job_events WHERE job_id = ?1 ORDER BY seq
