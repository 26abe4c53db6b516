-- The membership version and every member, ordered by id (one row with NULL id when none).
-- Silence in whole milliseconds, truncated (as SQLite's integer division and duration_cast).
SELECT c.membership_version, w.id, w.host, w.pid, w.version, array_to_json(w.queues),
       array_to_json(w.roles), w.partition,
       w.partition_count, w.heartbeat_timeout_ms, w.started_at, w.heartbeat_at,
       floor(extract(epoch FROM coalesce($1, now()) - w.heartbeat_at) * 1000)::bigint,
       w.id = c.leader AND c.leader_expires_at > coalesce($1, now()), w.incarnation,
       array_to_json(w.kinds), w.concurrency
FROM spindle.cluster c LEFT JOIN spindle.workers w ON true
ORDER BY w.id COLLATE "C"
