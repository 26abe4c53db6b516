-- The planner's estimate of how many jobs match (job_count_up_to.sql counted to its cap); the
-- filter's parameters as in fragments/job_filter.sql.
EXPLAIN (FORMAT JSON)
SELECT 1
FROM spindle.jobs
WHERE
  -- include: job_filter.sql
