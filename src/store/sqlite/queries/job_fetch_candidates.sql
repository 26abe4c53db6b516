-- The regulated fetch's first step (docs/regulation.md): up to ?3 of the jobs job_fetch.sql would
-- take, with its parameters and in its order, not leased: the store decides which start.
SELECT id, kind, args
FROM spindle_jobs
WHERE
  -- include: job_fetchable.sql
ORDER BY priority, run_at, id
LIMIT ?3
