-- job_insert.sql for a job with a unique key (keep the two in step): ?1..?13 as there, ?14 its
-- unique key, ?15 its unique period (microseconds; NULL: none), ?16 its unique states
-- (',a,b,'). Inserts nothing when a job holds the key in the job's bucket (the index of
-- migration 014); then job_unique_holder.sql finds it. A serial key's triggers (migration 013)
-- fire after the insert, so a job that is not inserted takes no place in its key's line.
INSERT INTO spindle_jobs (id, kind, queue, args, priority, run_at, state, max_attempts,
                          timeout_ms, created_at, parent_id, deadline, expires_at, serial_key,
                          unique_key, unique_bucket, unique_states)
SELECT ?1, ?2, coalesce(?3, k.queue, 'default'), ?4, coalesce(?5, k.priority, 0),
       coalesce(?6, ?10), CASE WHEN ?6 IS NULL OR ?6 <= ?10 THEN 'available' ELSE 'scheduled' END,
       coalesce(?7, k.max_attempts, 25), coalesce(?8, k.timeout_ms), ?10, ?9, ?11, ?12, ?13, ?14,
       coalesce(?6, ?10) / ?15 * ?15, ?16
FROM (SELECT 1) LEFT JOIN spindle_kinds k ON k.kind = ?2
WHERE true  -- SQLite's upsert after INSERT ... SELECT needs a WHERE
ON CONFLICT DO NOTHING
RETURNING queue, state
