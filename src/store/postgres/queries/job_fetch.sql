-- Leases up to $3 due jobs of queue $2 whose kind is one of $6 (the kinds worker $4 has
-- handlers for) to that worker for $5 ms. $1 = now (NULL: database clock).
-- Partitioned dispatch: only ids whose last 16 bits scaled to $7 partitions fall in one of the
-- partitions $8 (0-based; $7 = 0: every id). $9: only jobs due at least that many ms ago
-- (fallback scan).
-- SKIP LOCKED lets concurrent fetchers pass over each other's rows instead of waiting.
WITH picked AS (
  SELECT id
  FROM spindle.jobs
  WHERE
    -- include: job_fetchable.sql
  ORDER BY priority, run_at, id
  LIMIT $3
  FOR UPDATE SKIP LOCKED
)
UPDATE spindle.jobs j
SET state = 'running',
    attempt = j.attempt + 1,
    attempts_used = j.attempts_used + 1,
    started_at = coalesce($1, now()),
    lease_owner = $4,
    lease_expires_at = coalesce($1, now()) + $5 * interval '1 millisecond'
FROM picked
WHERE j.id = picked.id
RETURNING j.id, j.kind, j.queue, j.args, j.priority, j.run_at, j.state, j.attempt,
          j.max_attempts, j.timeout_ms, '[]'::jsonb, j.created_at, j.started_at, j.finished_at,
          j.lease_owner, j.lease_expires_at, j.step, j.checkpoint,
          j.parent_id, j.children_total, j.children_pending, j.progress,
          j.result, j.attempts_used, j.serial_key, j.serial_held,
          j.deadline, j.expires_at
