-- Removes member ?2 (NULL: any member), only if silent past its heartbeat timeout at ?1 when
-- ?3. Returns the removed ids; member_remove_*.sql then free what they held, in the same
-- transaction (SQLite has no data-modifying WITH as PostgreSQL's member_remove.sql uses).
DELETE FROM spindle_workers
WHERE (?2 IS NULL OR id = ?2)
  AND (NOT ?3 OR heartbeat_at + heartbeat_timeout_ms * 1000 < ?1)
RETURNING id
