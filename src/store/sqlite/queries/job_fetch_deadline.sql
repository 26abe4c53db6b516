-- job_fetch.sql in earliest-deadline-first order (a queue with order = "deadline"), as on
-- PostgreSQL (see its job_fetch_deadline.sql): within each priority, jobs with a deadline by
-- deadline, then those without one in job_fetch.sql's order; each arm reads its own index.
UPDATE spindle_jobs
SET
    -- include: job_leased.sql
WHERE id IN (
  SELECT id FROM (
    SELECT * FROM (
      SELECT id, priority, deadline, run_at FROM spindle_jobs
      WHERE deadline IS NOT NULL
        AND
        -- include: job_fetchable.sql
      ORDER BY priority, deadline, run_at, id
      LIMIT ?3)
    UNION ALL
    SELECT * FROM (
      SELECT id, priority, deadline, run_at FROM spindle_jobs
      WHERE deadline IS NULL
        AND
        -- include: job_fetchable.sql
      ORDER BY priority, run_at, id
      LIMIT ?3))
  ORDER BY priority, deadline IS NULL, deadline, run_at, id
  LIMIT ?3)
RETURNING
          -- include: job_fetched_columns.sql
