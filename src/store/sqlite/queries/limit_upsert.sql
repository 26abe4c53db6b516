-- Records limit ?1 (docs/regulation.md), replacing the one of its name. ?6 = now; ?7 a pool's
-- units by kind (JSON, NULL: none).
INSERT INTO spindle_limits (name, capacity, queue, kind, key, units, registered_at)
VALUES (?1, ?2, ?3, ?4, ?5, ?7, ?6)
ON CONFLICT (name) DO UPDATE
SET capacity = excluded.capacity, queue = excluded.queue, kind = excluded.kind,
    key = excluded.key, units = excluded.units, registered_at = excluded.registered_at
