-- Leases up to ?3 due jobs of queue ?2 whose kind is in the JSON array ?6 to worker ?4 for ?5 ms.
-- ?1 = now. Partitioned dispatch: only ids in one of the partitions of JSON array ?8 (0-based)
-- of ?7 (0: every id), as PartitionOf computes it. ?9: only jobs due at least that many ms ago
-- (fallback scan).
-- Runs inside BEGIN IMMEDIATE: the write lock is what keeps two fetchers apart.
-- RETURNING does not keep the ORDER BY; the store sorts the batch.
UPDATE spindle_jobs
SET state = 'running',
    attempt = attempt + 1,
    attempts_used = attempts_used + 1,
    started_at = ?1,
    lease_owner = ?4,
    lease_expires_at = ?1 + ?5 * 1000
WHERE id IN (
  SELECT id
  FROM spindle_jobs
  WHERE
    -- include: job_fetchable.sql
  ORDER BY priority, run_at, id
  LIMIT ?3)
RETURNING id, kind, queue, args, priority, run_at, state, attempt, max_attempts, timeout_ms,
          '[]', created_at, started_at, finished_at, lease_owner, lease_expires_at, step, checkpoint,
          parent_id, children_total, children_pending, progress, result, attempts_used, serial_key, serial_held,
          deadline, expires_at
