-- Inserts a batch (arrays of equal length, one element per job) and wakes idle workers with one
-- NOTIFY per queue that received due jobs. $1 = now (NULL: the database's clock). $10: the parent
-- of them all (NULL: none).
WITH input AS (
  SELECT * FROM unnest($2::uuid[], $3::text[], $4::text[], $5::jsonb[], $6::integer[],
                       $7::timestamptz[], $8::integer[], $9::bigint[])
    AS t(id, kind, queue, args, priority, run_at, max_attempts, timeout_ms)
), inserted AS (
  INSERT INTO spindle.jobs (id, kind, queue, args, priority, run_at, state, max_attempts,
                            timeout_ms, created_at, parent_id)
  SELECT id, kind, queue, args, priority, coalesce(run_at, coalesce($1, now())),
         CASE WHEN run_at IS NULL OR run_at <= coalesce($1, now()) THEN 'available'
              ELSE 'scheduled' END::spindle.job_state,
         max_attempts, timeout_ms, coalesce($1, now()), $10::uuid
  FROM input
  RETURNING queue, state
)
SELECT count(*) FILTER (WHERE pg_notify('spindle_jobs', queue) IS NULL)
FROM (SELECT DISTINCT queue FROM inserted WHERE state = 'available') AS due
