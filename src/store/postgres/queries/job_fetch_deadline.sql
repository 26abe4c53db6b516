-- job_fetch.sql in earliest-deadline-first order (a queue with order = "deadline"): within
-- each priority, jobs with a deadline by deadline, then those without one in job_fetch.sql's
-- order. The same parameters and filters. Each arm reads its own index in order and stops at
-- $3 rows (jobs_deadline_idx, jobs_fetch_idx): one statement, no sort of the queue; the arms'
-- surplus rows stay locked only until this statement ends.
WITH with_deadline AS (
  SELECT id, priority, deadline, run_at
  FROM spindle.jobs
  WHERE deadline IS NOT NULL
    AND
    -- include: job_fetchable.sql
  ORDER BY priority, deadline, run_at, id
  LIMIT $3
  FOR UPDATE SKIP LOCKED
), without_deadline AS (
  SELECT id, priority, deadline, run_at
  FROM spindle.jobs
  WHERE deadline IS NULL
    AND
    -- include: job_fetchable.sql
  ORDER BY priority, run_at, id
  LIMIT $3
  FOR UPDATE SKIP LOCKED
), picked AS (
  SELECT id
  FROM (SELECT * FROM with_deadline UNION ALL SELECT * FROM without_deadline) AS candidates
  ORDER BY priority, deadline NULLS LAST, run_at, id LIMIT $3
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
