-- The history of the jobs of ?1 (a JSON array of ids), deleted with them by job_prune_delete.sql.
DELETE FROM spindle_job_events WHERE job_id IN (SELECT value FROM json_each(?1))
