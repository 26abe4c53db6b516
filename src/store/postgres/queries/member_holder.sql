-- The member registered as $2, if any, for a registration of that id ($1 = now, NULL: database
-- clock): its incarnation, host and pid, and whether it is silent past its heartbeat timeout
-- (dead, as member_remove.sql judges it). Locks the row until the registration commits.
SELECT incarnation, host, pid,
       heartbeat_at + heartbeat_timeout_ms * interval '1 millisecond' < coalesce($1, now())
FROM spindle.workers
WHERE id = $2
FOR UPDATE
