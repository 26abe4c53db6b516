-- One job. ?10 = now (microseconds). A run_at (?6) in the future makes it scheduled. ?9: its
-- parent (NULL: none).
INSERT INTO spindle_jobs (id, kind, queue, args, priority, run_at, state, max_attempts,
                          timeout_ms, created_at, parent_id)
VALUES (?1, ?2, ?3, ?4, ?5, coalesce(?6, ?10),
        CASE WHEN ?6 IS NULL OR ?6 <= ?10 THEN 'available' ELSE 'scheduled' END,
        ?7, ?8, ?10, ?9)
