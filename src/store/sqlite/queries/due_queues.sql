-- The queues with jobs due at ?1: their workers are woken when the cluster resumes.
SELECT DISTINCT queue FROM spindle_jobs
WHERE state IN ('scheduled', 'available', 'retryable') AND run_at <= ?1
