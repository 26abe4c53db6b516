-- How many jobs job_list.sql would list without a limit, counting no further than (the cap + 1) $15; the
-- filter's parameters as in fragments/job_filter.sql.
SELECT count(*)
FROM (SELECT 1
      FROM spindle.jobs
      WHERE
        -- include: job_filter.sql
      LIMIT $15) capped
