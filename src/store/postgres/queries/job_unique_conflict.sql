-- Job $1's unique key, and the other job that holds it now (with its state), if any: why a
-- person's retry or resume of $1 collided with jobs_unique_idx.
SELECT j.unique_key, o.id, o.state
FROM spindle.jobs j
JOIN spindle.jobs o ON o.unique_key = j.unique_key
  AND coalesce(o.unique_bucket, '-infinity') = coalesce(j.unique_bucket, '-infinity')
  AND o.state = ANY (o.unique_states) AND o.id <> j.id
WHERE j.id = $1
