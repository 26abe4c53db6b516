-- Records the defaults worker ?2 declares for kind ?3 (NULL: not declared; ?8 the serial policy), replacing what was
-- recorded for it: the last worker to start wins. ?1 = now.
INSERT INTO spindle_kinds (kind, queue, priority, max_attempts, timeout_ms, worker, registered_at,
                           serial)
VALUES (?3, ?4, ?5, ?6, ?7, ?2, ?1, ?8)
ON CONFLICT (kind) DO UPDATE
SET queue = excluded.queue, priority = excluded.priority, max_attempts = excluded.max_attempts,
    timeout_ms = excluded.timeout_ms, serial = excluded.serial, worker = excluded.worker,
    registered_at = excluded.registered_at
