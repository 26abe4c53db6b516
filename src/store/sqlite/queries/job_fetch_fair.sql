-- job_fetch.sql in a fair queue, as on PostgreSQL (see its job_fetch_fair.sql): within each
-- priority, by the jobs' virtual start times (spindle_jobs_fair_idx).
UPDATE spindle_jobs
SET
    -- include: job_leased.sql
WHERE id IN (
  SELECT id
  FROM spindle_jobs
  WHERE fair_vt IS NOT NULL
    AND
    -- include: job_fetchable.sql
  ORDER BY priority, fair_vt, run_at, id
  LIMIT ?3)
RETURNING
          -- include: job_fetched_columns.sql
