-- Newest first, ?15 at most; the filter's parameters as in fragments/job_filter.sql. A job's
-- children: job_children.sql.
SELECT id, kind, queue, args, priority, run_at, state, attempt, max_attempts, timeout_ms, errors,
       created_at, started_at, finished_at, lease_owner, lease_expires_at, step, checkpoint,
       parent_id, children_total, children_pending, progress, result, attempts_used, serial_key, serial_held,
       deadline, expires_at, unique_key, gate_wait, fair_key
FROM spindle_jobs
WHERE
  -- include: job_filter.sql
ORDER BY id DESC
LIMIT ?15
