-- The member registered as ?2, if any, for a registration of that id at ?1: its incarnation, host
-- and pid, and whether it is silent past its heartbeat timeout (dead, as member_remove.sql judges
-- it).
SELECT incarnation, host, pid, heartbeat_at + heartbeat_timeout_ms * 1000 < ?1
FROM spindle_workers
WHERE id = ?2
