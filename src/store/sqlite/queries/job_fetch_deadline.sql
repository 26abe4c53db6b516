-- job_fetch.sql in earliest-deadline-first order (a queue with order = "deadline"), as on
-- PostgreSQL (see its job_fetch_deadline.sql): within each priority, jobs with a deadline by
-- deadline, then those without one in job_fetch.sql's order; each arm reads its own index.
UPDATE spindle_jobs
SET state = 'running',
    attempt = attempt + 1,
    attempts_used = attempts_used + 1,
    started_at = ?1,
    lease_owner = ?4,
    lease_expires_at = ?1 + ?5 * 1000
WHERE id IN (
  SELECT id FROM (
    SELECT * FROM (
      SELECT id, priority, deadline, run_at FROM spindle_jobs
      WHERE deadline IS NOT NULL
        AND state IN ('scheduled', 'available', 'retryable')
        AND NOT serial_held  -- waits behind another job of its serial key (not in the indexes)
        AND queue = ?2
        AND run_at <= ?1 - ?9 * 1000
        AND (lease_expires_at IS NULL OR lease_expires_at <= ?1)
        AND (expires_at IS NULL OR expires_at > ?1)
        AND (?7 = 0 OR spindle_partition(id, ?7) IN (SELECT value FROM json_each(?8)))
        AND kind IN (SELECT value FROM json_each(?6))
        AND NOT EXISTS (SELECT 1 FROM spindle_queues q WHERE q.name = ?2 AND q.paused_at IS NOT NULL)
        AND (SELECT stopped_at FROM spindle_cluster) IS NULL
      ORDER BY priority, deadline, run_at, id
      LIMIT ?3)
    UNION ALL
    SELECT * FROM (
      SELECT id, priority, deadline, run_at FROM spindle_jobs
      WHERE deadline IS NULL
        AND state IN ('scheduled', 'available', 'retryable')
        AND NOT serial_held  -- waits behind another job of its serial key (not in the indexes)
        AND queue = ?2
        AND run_at <= ?1 - ?9 * 1000
        AND (lease_expires_at IS NULL OR lease_expires_at <= ?1)
        AND (expires_at IS NULL OR expires_at > ?1)
        AND (?7 = 0 OR spindle_partition(id, ?7) IN (SELECT value FROM json_each(?8)))
        AND kind IN (SELECT value FROM json_each(?6))
        AND NOT EXISTS (SELECT 1 FROM spindle_queues q WHERE q.name = ?2 AND q.paused_at IS NOT NULL)
        AND (SELECT stopped_at FROM spindle_cluster) IS NULL
      ORDER BY priority, run_at, id
      LIMIT ?3))
  ORDER BY priority, deadline IS NULL, deadline, run_at, id
  LIMIT ?3)
RETURNING id, kind, queue, args, priority, run_at, state, attempt, max_attempts, timeout_ms,
          '[]', created_at, started_at, finished_at, lease_owner, lease_expires_at, step, checkpoint,
          parent_id, children_total, children_pending, progress, result, attempts_used, serial_key, serial_held,
          deadline, expires_at
