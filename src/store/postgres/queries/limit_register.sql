-- Records the limits a worker declares (arrays, one element per limit), each replacing the one of
-- its name, and removes the recorded ones it does not declare that apply only to its queues $6
-- or kinds $7, or to every job. $8 = now (NULL: the database's clock).
WITH declared AS (
  INSERT INTO spindle.limits AS l (name, capacity, queue, kind, key, registered_at)
  SELECT name, capacity, queue, kind, key, coalesce($8::timestamptz, now())
  FROM unnest($1::text[], $2::integer[], $3::text[], $4::text[], $5::text[])
    AS t(name, capacity, queue, kind, key)
  ON CONFLICT (name) DO UPDATE
  SET capacity = excluded.capacity, queue = excluded.queue, kind = excluded.kind,
      key = excluded.key, registered_at = excluded.registered_at
)
DELETE FROM spindle.limits
WHERE name <> ALL ($1::text[])
  AND ((queue IS NULL AND kind IS NULL) OR queue = ANY ($6::text[]) OR kind = ANY ($7::text[]))
