-- Pauses queue $2 ($3 true) or resumes it ($3 false); idempotent. Resuming wakes its workers.
WITH upsert AS (
  INSERT INTO spindle.queues AS q (name, paused_at)
  VALUES ($2, CASE WHEN $3 THEN coalesce($1, now()) END)
  ON CONFLICT (name) DO UPDATE
  SET paused_at = CASE WHEN $3 THEN coalesce(q.paused_at, coalesce($1, now())) END
  RETURNING q.name
)
SELECT pg_notify('spindle_jobs', name) FROM upsert WHERE NOT $3
