-- Records limit ?1 (docs/regulation.md), replacing the one of its name. ?6 = now; ?7 a pool's
-- units by kind (JSON, NULL: none); ?8 a rate limit's window in ms (NULL: a concurrency limit).
INSERT INTO spindle_limits (name, capacity, queue, kind, key, units, per_ms, registered_at)
VALUES (?1, ?2, ?3, ?4, ?5, ?7, ?8, ?6)
ON CONFLICT (name) DO UPDATE
SET capacity = excluded.capacity, queue = excluded.queue, kind = excluded.kind,
    key = excluded.key, units = excluded.units, per_ms = excluded.per_ms,
    registered_at = excluded.registered_at
