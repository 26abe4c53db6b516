-- The job that holds unique key ?1 in the bucket of time ?2 with period ?3 (microseconds; NULL:
-- no period) now, if any.
SELECT id FROM spindle_jobs
WHERE unique_key = ?1
  AND coalesce(unique_bucket, -1) = coalesce(?2 / ?3 * ?3, -1)
  AND instr(unique_states, ',' || state || ',') > 0
