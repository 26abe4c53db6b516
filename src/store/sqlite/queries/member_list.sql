-- The membership version and every member, ordered by id (one row with NULL id when none).
-- ?1 = now.
SELECT c.membership_version, w.id, w.host, w.pid, w.version, w.queues, w.roles, w.partition,
       w.partition_count, w.heartbeat_timeout_ms, w.started_at, w.heartbeat_at,
       (?1 - w.heartbeat_at) / 1000,
       w.id = c.leader AND c.leader_expires_at > ?1, w.incarnation, w.kinds, w.concurrency
FROM spindle_cluster c LEFT JOIN spindle_workers w ON true
ORDER BY w.id
