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
        AND
        -- include: job_fetchable.sql
      ORDER BY priority, deadline, run_at, id
      LIMIT ?3)
    UNION ALL
    SELECT * FROM (
      SELECT id, priority, deadline, run_at FROM spindle_jobs
      WHERE deadline IS NULL
        AND
        -- include: job_fetchable.sql
      ORDER BY priority, run_at, id
      LIMIT ?3))
  ORDER BY priority, deadline IS NULL, deadline, run_at, id
  LIMIT ?3)
RETURNING id, kind, queue, args, priority, run_at, state, attempt, max_attempts, timeout_ms,
          '[]', created_at, started_at, finished_at, lease_owner, lease_expires_at, step, checkpoint,
          parent_id, children_total, children_pending, progress, result, attempts_used, serial_key, serial_held,
          deadline, expires_at
