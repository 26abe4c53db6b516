-- How many jobs job_list.sql (or job_children.sql) would list without a limit; the filter's
-- parameters as in fragments/job_filter.sql.
SELECT count(*)
FROM spindle.jobs
WHERE
  -- include: job_filter.sql
