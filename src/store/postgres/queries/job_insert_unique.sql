-- job_insert_many.sql for a batch with unique keys (keep the two in step): $1..$13 as there, and
-- per job $14 its unique key, $15 its unique period in ms and $16 its unique states (an array
-- literal; NULL: the default), all NULL for a job without a key. The jobs are inserted in batch
-- order with ON CONFLICT DO NOTHING against jobs_unique_idx (migration 014), so that of two with
-- one key the first wins; a job without a key never conflicts. A job with a serial key is
-- inserted with serial_seq 0, which has migration 014's AFTER trigger put it in its key's line
-- rather than 013's BEFORE trigger: that one would fire also for a row ON CONFLICT then skips,
-- and a job that is not inserted must take no place in the line. One row per keyed job that was
-- not inserted: its id in the batch, its bucket, and the job holding its key (NULL when the
-- holder is not in this statement's snapshot: it committed meanwhile, and the caller looks it up).
WITH input AS (
  SELECT * FROM unnest($2::uuid[], $3::text[], $4::text[], $5::jsonb[], $6::integer[],
                       $7::timestamptz[], $8::integer[], $9::bigint[], $11::timestamptz[],
                       $12::timestamptz[], $13::text[], $14::text[], $15::bigint[], $16::text[])
    WITH ORDINALITY
    AS t(id, kind, queue, args, priority, run_at, max_attempts, timeout_ms, deadline, expires_at,
         serial_key, unique_key, unique_period_ms, unique_states, ord)
), batch AS (
  SELECT i.id, i.kind, coalesce(i.queue, k.queue, 'default') AS queue, i.args,
         coalesce(i.priority, k.priority, 0) AS priority,
         coalesce(i.run_at, coalesce($1, now())) AS run_at,
         CASE WHEN i.run_at IS NULL OR i.run_at <= coalesce($1, now()) THEN 'available'
              ELSE 'scheduled' END::spindle.job_state AS state,
         coalesce(i.max_attempts, k.max_attempts, 25) AS max_attempts,
         coalesce(i.timeout_ms, k.timeout_ms) AS timeout_ms, i.deadline, i.expires_at,
         i.serial_key, i.unique_key,
         to_timestamp(floor(extract(epoch FROM coalesce(i.run_at, $1, now())) * 1000
                            / i.unique_period_ms) * i.unique_period_ms / 1000) AS unique_bucket,
         CASE WHEN i.unique_key IS NOT NULL
              THEN coalesce(i.unique_states::spindle.job_state[],
                            '{scheduled,available,running,retryable,waiting,stopped}') END
           AS unique_states,
         i.ord
  FROM input i LEFT JOIN spindle.kinds k ON k.kind = i.kind
), inserted AS (
  INSERT INTO spindle.jobs (id, kind, queue, args, priority, run_at, state, max_attempts,
                            timeout_ms, created_at, parent_id, deadline, expires_at, serial_key,
                            serial_seq, unique_key, unique_bucket, unique_states)
  SELECT id, kind, queue, args, priority, run_at, state, max_attempts, timeout_ms,
         coalesce($1, now()), $10::uuid, deadline, expires_at, serial_key,
         CASE WHEN serial_key IS NOT NULL THEN 0 END, unique_key, unique_bucket, unique_states
  FROM batch
  ORDER BY ord
  ON CONFLICT DO NOTHING
  RETURNING id, queue, state, unique_key, unique_bucket, unique_states
), notified AS (
  SELECT count(*) FILTER (WHERE pg_notify('spindle_jobs', queue || chr(31) || (extract(epoch FROM now()) * 1000000)::bigint) IS NULL) AS n
  FROM (SELECT DISTINCT queue FROM inserted WHERE state = 'available') AS due
), skipped AS (
  SELECT b.id, b.unique_bucket,
         coalesce(
           (SELECT k.id FROM inserted k
            WHERE k.unique_key = b.unique_key
              AND k.unique_bucket IS NOT DISTINCT FROM b.unique_bucket
              AND k.state = ANY (k.unique_states)),
           (SELECT j.id FROM spindle.jobs j
            WHERE j.unique_key = b.unique_key
              AND coalesce(j.unique_bucket, '-infinity') = coalesce(b.unique_bucket, '-infinity')
              AND j.state = ANY (j.unique_states))) AS holder
  FROM batch b
  WHERE b.unique_key IS NOT NULL AND b.id NOT IN (SELECT id FROM inserted)
)
SELECT s.id, s.unique_bucket, s.holder FROM notified n LEFT JOIN skipped s ON true
