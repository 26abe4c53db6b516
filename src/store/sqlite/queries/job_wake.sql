-- Wakes job ?2, as on PostgreSQL (see its job_wake.sql).
UPDATE spindle_jobs
SET state = CASE WHEN state IN ('scheduled', 'retryable', 'waiting') THEN 'available'
                 ELSE state END,
    run_at = CASE WHEN state IN ('scheduled', 'retryable', 'waiting') THEN ?1 ELSE run_at END,
    wake_requested = state = 'running'
WHERE id = ?2 AND state IN ('scheduled', 'available', 'retryable', 'running', 'waiting')
RETURNING id, kind, queue, args, priority, run_at, state, attempt, max_attempts, timeout_ms, errors,
       created_at, started_at, finished_at, lease_owner, lease_expires_at, step, checkpoint,
       parent_id, children_total, children_pending, progress, result, attempts_used, serial_key, serial_held
