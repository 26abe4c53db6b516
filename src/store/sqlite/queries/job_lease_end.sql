-- After worker ?1's outcome of attempt ?3 of job ?2 was refused: if the job was taken from the
-- worker while that attempt ran (no longer running, still leased to the worker and attempt), the
-- attempt's process is gone, so its lease ends and the job may run again at once, as on
-- PostgreSQL (see its job_finish_many.sql). ?4 = now. Returns the queue when the job is due.
UPDATE spindle_jobs SET lease_owner = NULL, lease_expires_at = NULL
WHERE id = ?2 AND attempt = ?3 AND lease_owner = ?1 AND state <> 'running'
RETURNING CASE WHEN state IN ('available', 'scheduled', 'retryable') AND run_at <= ?4
               THEN queue END
