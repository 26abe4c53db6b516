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
  WHERE state IN ('scheduled', 'available', 'retryable')
    AND NOT serial_held  -- waits behind another job of its serial key (not in the index)
    AND queue = ?2
    AND run_at <= ?1 - ?9 * 1000
    -- A job taken from a running worker keeps that attempt's lease while its process may live,
    -- as on PostgreSQL (see its job_fetch.sql).
    AND (lease_expires_at IS NULL OR lease_expires_at <= ?1)
    -- Past its expires_at a job never starts; the expirer makes it `expired` (job_expire.sql).
    AND (expires_at IS NULL OR expires_at > ?1)
    AND (?7 = 0 OR spindle_partition(id, ?7) IN (SELECT value FROM json_each(?8)))
    AND kind IN (SELECT value FROM json_each(?6))
    -- Nothing is fetched from a paused queue or a stopped cluster.
    AND NOT EXISTS (SELECT 1 FROM spindle_queues q WHERE q.name = ?2 AND q.paused_at IS NOT NULL)
    AND (SELECT stopped_at FROM spindle_cluster) IS NULL
  ORDER BY priority, run_at, id
  LIMIT ?3)
RETURNING id, kind, queue, args, priority, run_at, state, attempt, max_attempts, timeout_ms,
          '[]', created_at, started_at, finished_at, lease_owner, lease_expires_at, step, checkpoint,
          parent_id, children_total, children_pending, progress, result, attempts_used, serial_key, serial_held,
          deadline, expires_at
