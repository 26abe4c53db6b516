-- The job that holds unique key $1 in bucket $2 (NULL: no period) now, if any.
SELECT id FROM spindle.jobs
WHERE unique_key = $1 AND coalesce(unique_bucket, '-infinity') = coalesce($2::timestamptz, '-infinity')
  AND state = ANY (unique_states)
