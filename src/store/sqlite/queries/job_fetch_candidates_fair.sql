-- job_fetch_candidates.sql in a fair queue: in job_fetch_fair.sql's order, with its parameters.
SELECT id, kind, args
FROM spindle_jobs
WHERE fair_vt IS NOT NULL
  AND
  -- include: job_fetchable.sql
ORDER BY priority, fair_vt, run_at, id
LIMIT ?3
