-- How many jobs job_list.sql (or job_children.sql, $4 the parent) would list without a limit.
SELECT count(*)
FROM spindle.jobs
WHERE ($1::spindle.job_state[] IS NULL OR state = ANY ($1))
  AND ($2::text IS NULL OR queue = $2)
  AND ($3::text IS NULL OR kind = $3)
  AND ($4::uuid IS NULL OR parent_id = $4)
  AND ($5::uuid IS NULL OR id < $5)
