-- Registers worker ?2 of incarnation ?10 (or again, after an eviction). ?6, ?7, ?11: queues,
-- roles and kinds as JSON arrays; ?12: each queue's concurrency as a JSON object.
-- ?8: its partition number, 0 for the lowest number no other member holds, NULL for none.
-- ?1 = now. Runs after membership_bump.sql in one transaction (whose write lock serializes
-- registrations, so two workers never pick the same number), after member_holder.sql: a row of
-- this id left here is of the same incarnation.
-- The lowest free number is 1 or one above a taken number.
INSERT INTO spindle_workers
  (id, host, pid, version, queues, roles, partition, heartbeat_timeout_ms, started_at,
   heartbeat_at, incarnation, kinds, concurrency)
SELECT ?2, ?3, ?4, ?5, ?6, ?7,
       CASE WHEN ?8 = 0 THEN (
         WITH taken(p) AS (SELECT partition FROM spindle_workers
                           WHERE partition IS NOT NULL AND id <> ?2)
         SELECT min(n) FROM (SELECT 1 AS n UNION SELECT p + 1 FROM taken)
         WHERE n NOT IN (SELECT p FROM taken))
       ELSE ?8 END,
       ?9, ?1, ?1, ?10, ?11, ?12
WHERE true  -- SQLite's parser needs a WHERE before ON CONFLICT in INSERT ... SELECT
ON CONFLICT (id) DO UPDATE
SET host = excluded.host, pid = excluded.pid, version = excluded.version,
    queues = excluded.queues, roles = excluded.roles, partition = excluded.partition,
    heartbeat_timeout_ms = excluded.heartbeat_timeout_ms, heartbeat_at = excluded.heartbeat_at,
    kinds = excluded.kinds, concurrency = excluded.concurrency
RETURNING partition, started_at, heartbeat_at
