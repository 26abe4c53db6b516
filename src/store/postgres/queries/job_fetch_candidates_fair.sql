-- job_fetch_candidates.sql in a fair queue: in job_fetch_fair.sql's order, with its parameters.
SELECT id, kind, args
FROM spindle.jobs
WHERE fair_vt IS NOT NULL
  AND
  -- include: job_fetchable.sql
  AND $4::text IS NOT NULL AND $5::bigint IS NOT NULL
ORDER BY priority, fair_vt, run_at, id
LIMIT $3
FOR UPDATE SKIP LOCKED
