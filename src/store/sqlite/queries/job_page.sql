-- The ids of one page of a bulk change (Store::JobCancelPage, ...), as job_list.sql would list
-- them: ?1 states (a JSON array), ?2 queue, ?3 kind, ?4 parent, ?5 after, ?6 limit. The store
-- changes each with the single-job statement, in the same transaction.
-- The unary + keeps SQLite (which has no statistics) from reading every job of the state or
-- queue through their indexes and sorting them for each page, which made a bulk change over a
-- million jobs quadratic: the pages walk the primary key from the last one instead, so a whole
-- change reads each job once.
SELECT id
FROM spindle_jobs
WHERE +state IN (SELECT value FROM json_each(?1))
  AND (?2 IS NULL OR +queue = ?2)
  AND (?3 IS NULL OR +kind = ?3)
  AND (?4 IS NULL OR +parent_id = ?4)
  AND (?5 IS NULL OR id < ?5)
ORDER BY id DESC
LIMIT ?6
