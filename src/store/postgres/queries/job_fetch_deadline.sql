-- job_fetch.sql in earliest-deadline-first order (a queue with order = "deadline"): within
-- each priority, jobs with a deadline by deadline, then those without one in job_fetch.sql's
-- order. The same parameters and filters. Each arm reads its own index in order and stops at
-- $3 rows (jobs_deadline_idx, jobs_fetch_idx): one statement, no sort of the queue; the arms'
-- surplus rows stay locked only until this statement ends.
WITH with_deadline AS (
  SELECT id, priority, deadline, run_at
  FROM spindle.jobs
  WHERE deadline IS NOT NULL
    AND
    -- include: job_fetchable.sql
  ORDER BY priority, deadline, run_at, id
  LIMIT $3
  FOR UPDATE SKIP LOCKED
), without_deadline AS (
  SELECT id, priority, deadline, run_at
  FROM spindle.jobs
  WHERE deadline IS NULL
    AND
    -- include: job_fetchable.sql
  ORDER BY priority, run_at, id
  LIMIT $3
  FOR UPDATE SKIP LOCKED
), picked AS (
  SELECT id
  FROM (SELECT * FROM with_deadline UNION ALL SELECT * FROM without_deadline) AS candidates
  ORDER BY priority, deadline NULLS LAST, run_at, id LIMIT $3
)
UPDATE spindle.jobs j
SET
    -- include: job_leased.sql
FROM picked
WHERE j.id = picked.id
RETURNING
          -- include: job_fetched_columns.sql
