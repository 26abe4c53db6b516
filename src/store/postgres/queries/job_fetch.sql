-- Leases up to $3 due jobs of queue $2 whose kind is one of $6 (the kinds worker $4 has
-- handlers for) to that worker for $5 ms. $1 = now (NULL: database clock).
-- Partitioned dispatch: only ids whose last 16 bits scaled to $7 partitions fall in one of the
-- partitions $8 (0-based; $7 = 0: every id). $9: only jobs due at least that many ms ago
-- (fallback scan).
-- SKIP LOCKED lets concurrent fetchers pass over each other's rows instead of waiting.
WITH picked AS (
  SELECT id
  FROM spindle.jobs
  WHERE state IN ('scheduled', 'available', 'retryable')
    AND NOT serial_held  -- waits behind another job of its serial key (not in the index)
    AND queue = $2
    AND run_at <= coalesce($1, now()) - $9 * interval '1 millisecond'
    -- A job taken from a running worker (stopped, cancelled, the cluster stopped) keeps that
    -- attempt's lease while its process may live: it runs again only once the attempt's outcome
    -- ended the lease (job_finish_many.sql) or the lease expired, never beside it.
    AND (lease_expires_at IS NULL OR lease_expires_at <= coalesce($1, now()))
    -- Past its expires_at a job never starts; the expirer makes it `expired` (job_expire.sql).
    AND (expires_at IS NULL OR expires_at > coalesce($1, now()))
    AND ($7 = 0 OR (get_byte(uuid_send(id), 14) * 256 + get_byte(uuid_send(id), 15))
                   * $7 / 65536 = ANY ($8::int[]))
    AND kind = ANY ($6::text[])
    -- Nothing is fetched from a paused queue or a stopped cluster.
    AND NOT EXISTS (SELECT 1 FROM spindle.queues q WHERE q.name = $2 AND q.paused_at IS NOT NULL)
    AND (SELECT c.stopped_at FROM spindle.cluster c) IS NULL
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
