-- Records the limits a worker declares (arrays, one element per limit), each replacing the one of
-- its name. $6 = now (NULL: the database's clock); $7 a pool's units by kind (JSON, NULL: none);
-- $8 a rate limit's window in ms (NULL: a concurrency limit).
INSERT INTO spindle.limits AS l (name, capacity, queue, kind, key, units, per_ms, registered_at)
SELECT name, capacity, queue, kind, key, units, per_ms, coalesce($6::timestamptz, now())
FROM unnest($1::text[], $2::integer[], $3::text[], $4::text[], $5::text[], $7::jsonb[],
            $8::bigint[])
  AS t(name, capacity, queue, kind, key, units, per_ms)
ON CONFLICT (name) DO UPDATE
SET capacity = excluded.capacity, queue = excluded.queue, kind = excluded.kind,
    key = excluded.key, units = excluded.units, per_ms = excluded.per_ms,
    registered_at = excluded.registered_at
