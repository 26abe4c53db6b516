-- How many jobs job_list.sql (or job_children.sql, ?4 the parent) would list without a limit.
SELECT count(*)
FROM spindle_jobs
WHERE (?1 IS NULL OR state IN (SELECT value FROM json_each(?1)))
  AND (?2 IS NULL OR queue = ?2)
  AND (?3 IS NULL OR kind = ?3)
  AND (?4 IS NULL OR parent_id = ?4)
  AND (?5 IS NULL OR id < ?5)
