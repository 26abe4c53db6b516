-- Registers worker $2 of incarnation $10 (or again, after an eviction), serving kinds $11 with
-- each queue's concurrency $12 (a JSON object). $8: its partition number,
-- 0 for the lowest number no other member holds, NULL for none. $1 = now (NULL: database clock).
-- Runs after membership_bump.sql and member_holder.sql in one transaction: a row of this id left
-- here is of the same incarnation.
INSERT INTO spindle.workers AS w
  (id, host, pid, version, queues, roles, partition, heartbeat_timeout_ms, started_at,
   heartbeat_at, incarnation, kinds, concurrency)
SELECT $2::text, $3::text, $4::int, $5::text, $6::text[], $7::text[],
       CASE WHEN $8::int = 0 THEN (
         SELECT min(n) FROM generate_series(1, (SELECT count(*) + 1 FROM spindle.workers)::int) n
         WHERE n NOT IN (SELECT partition FROM spindle.workers
                         WHERE partition IS NOT NULL AND id <> $2::text))
       ELSE $8::int END,
       $9::bigint, coalesce($1::timestamptz, now()), coalesce($1::timestamptz, now()), $10::text,
       $11::text[], $12::jsonb
ON CONFLICT (id) DO UPDATE
SET host = excluded.host, pid = excluded.pid, version = excluded.version,
    queues = excluded.queues, roles = excluded.roles, partition = excluded.partition,
    heartbeat_timeout_ms = excluded.heartbeat_timeout_ms, heartbeat_at = excluded.heartbeat_at,
    kinds = excluded.kinds, concurrency = excluded.concurrency
RETURNING w.partition, w.started_at, w.heartbeat_at
