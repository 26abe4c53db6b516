-- Inserts a batch (arrays of equal length, one element per job) and wakes idle workers with one
-- NOTIFY per queue that received due jobs. $1 = now (NULL: the database's clock). $10: the parent
-- of them all (NULL: none). What the caller left unset (NULL: queue, priority, max_attempts,
-- timeout) comes from the kind's defaults, else the built-in ones (migration 009). $11, $12:
-- deadline and expires_at (NULL: none). $13: serial keys (NULL: none; a trigger puts a keyed job
-- in its key's line, migration 013), which is why the rows are inserted in the batch's order (the
-- join may reorder them).
WITH input AS (
  SELECT * FROM unnest($2::uuid[], $3::text[], $4::text[], $5::jsonb[], $6::integer[],
                       $7::timestamptz[], $8::integer[], $9::bigint[], $11::timestamptz[],
                       $12::timestamptz[], $13::text[])
    WITH ORDINALITY
    AS t(id, kind, queue, args, priority, run_at, max_attempts, timeout_ms, deadline, expires_at,
         serial_key, ord)
), inserted AS (
  INSERT INTO spindle.jobs (id, kind, queue, args, priority, run_at, state, max_attempts,
                            timeout_ms, created_at, parent_id, deadline, expires_at, serial_key)
  SELECT i.id, i.kind, coalesce(i.queue, k.queue, 'default'), i.args,
         coalesce(i.priority, k.priority, 0), coalesce(i.run_at, coalesce($1, now())),
         CASE WHEN i.run_at IS NULL OR i.run_at <= coalesce($1, now()) THEN 'available'
              ELSE 'scheduled' END::spindle.job_state,
         coalesce(i.max_attempts, k.max_attempts, 25), coalesce(i.timeout_ms, k.timeout_ms),
         coalesce($1, now()), $10::uuid, i.deadline, i.expires_at, i.serial_key
  FROM input i LEFT JOIN spindle.kinds k ON k.kind = i.kind
  ORDER BY i.ord
  RETURNING queue, state
)
SELECT count(*) FILTER (WHERE pg_notify('spindle_jobs', queue || chr(31) || (extract(epoch FROM now()) * 1000000)::bigint) IS NULL)
FROM (SELECT DISTINCT queue FROM inserted WHERE state = 'available') AS due
