-- Hands the running jobs back as the cluster stops (?1 = now): available, the attempt not
-- counted; their late outcomes are refused. They run again when the cluster resumes, once the
-- attempt's process is gone: each keeps its lease until then (see job_fetch.sql).
UPDATE spindle_jobs
SET state = 'available', run_at = ?1, attempts_used = attempts_used - 1
WHERE state = 'running'
