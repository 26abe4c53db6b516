-- One job. ?10 = now (microseconds). A run_at (?6) in the future makes it scheduled. ?9: its
-- parent (NULL: none). What the caller left unset (NULL: ?3 queue, ?5 priority, ?7 max_attempts,
-- ?8 timeout) comes from the kind's defaults, else the built-in ones (migration 009). Returns
-- the queue and state it got. ?11, ?12: its deadline and expires_at (NULL: none). ?13: its
-- serial key (NULL: none; triggers put a keyed job in its key's line, migration 013).
INSERT INTO spindle_jobs (id, kind, queue, args, priority, run_at, state, max_attempts,
                          timeout_ms, created_at, parent_id, deadline, expires_at, serial_key)
SELECT ?1, ?2, coalesce(?3, k.queue, 'default'), ?4, coalesce(?5, k.priority, 0),
       coalesce(?6, ?10), CASE WHEN ?6 IS NULL OR ?6 <= ?10 THEN 'available' ELSE 'scheduled' END,
       coalesce(?7, k.max_attempts, 25), coalesce(?8, k.timeout_ms), ?10, ?9, ?11, ?12, ?13
FROM (SELECT 1) LEFT JOIN spindle_kinds k ON k.kind = ?2
RETURNING queue, state
