-- The regulated fetch's last step (docs/regulation.md): leases job ?2 to worker ?3 for ?4 ms,
-- holding gates ?5 (a JSON array, NULL: none). ?1 = now. Returns it as job_fetch.sql does.
UPDATE spindle_jobs
SET state = 'running',
    attempt = attempt + 1,
    attempts_used = attempts_used + 1,
    started_at = ?1,
    lease_owner = ?3,
    lease_expires_at = ?1 + ?4 * 1000,
    gates = ?5
WHERE id = ?2
RETURNING id, kind, queue, args, priority, run_at, state, attempt, max_attempts, timeout_ms,
          '[]', created_at, started_at, finished_at, lease_owner, lease_expires_at, step, checkpoint,
          parent_id, children_total, children_pending, progress, result, attempts_used, serial_key, serial_held,
          deadline, expires_at
