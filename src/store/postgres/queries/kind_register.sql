-- Records the defaults worker $2 declares for kinds (arrays of equal length, one element per
-- kind; NULL: not declared; $8 the serial policies), each replacing what was recorded for its kind: the last worker to
-- start wins. $1 = now (NULL: the database's clock).
INSERT INTO spindle.kinds AS k (kind, queue, priority, max_attempts, timeout_ms, worker,
                                registered_at, serial)
SELECT kind, queue, priority, max_attempts, timeout_ms, $2::text, coalesce($1::timestamptz, now()),
       serial
FROM unnest($3::text[], $4::text[], $5::integer[], $6::integer[], $7::bigint[], $8::text[])
  AS t(kind, queue, priority, max_attempts, timeout_ms, serial)
ON CONFLICT (kind) DO UPDATE
SET queue = excluded.queue, priority = excluded.priority, max_attempts = excluded.max_attempts,
    timeout_ms = excluded.timeout_ms, serial = excluded.serial, worker = excluded.worker,
    registered_at = excluded.registered_at
