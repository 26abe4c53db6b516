-- Hands the running jobs back as the cluster stops (?1 = now): available, the attempt not
-- counted; their late outcomes are refused. They run again when the cluster resumes.
UPDATE spindle_jobs
SET state = 'available', run_at = ?1, max_attempts = max_attempts + 1,
    lease_owner = NULL, lease_expires_at = NULL
WHERE state = 'running'
