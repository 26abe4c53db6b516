-- Expires job ?2 at ?1, one of job_expire.sql's, unless it moved on meanwhile.
UPDATE spindle_jobs SET state = 'expired', finished_at = ?1
WHERE id = ?2 AND state IN ('scheduled', 'available', 'retryable')
