-- Job ?1's unique key, and the other job that holds it now (with its state), if any: why a
-- person's retry or resume of ?1 collided with spindle_jobs_unique_idx.
SELECT j.unique_key, o.id, o.state
FROM spindle_jobs j
JOIN spindle_jobs o ON o.unique_key = j.unique_key
  AND coalesce(o.unique_bucket, -1) = coalesce(j.unique_bucket, -1)
  AND instr(o.unique_states, ',' || o.state || ',') > 0 AND o.id <> j.id
WHERE j.id = ?1
