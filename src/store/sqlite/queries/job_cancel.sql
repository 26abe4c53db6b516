-- Cancels job ?2 unless it has finished; a running job's late outcome is refused (the lease
-- stays while the attempt's process may be alive). Its unfinished children are cancelled too, and running jobs' workers told (triggers).
-- No row: unknown id or illegal transition.
UPDATE spindle_jobs
SET state = 'cancelled', finished_at = ?1
WHERE id = ?2 AND state IN ('scheduled', 'available', 'running', 'retryable', 'stopped',
                          'waiting')
RETURNING id, kind, queue, args, priority, run_at, state, attempt, max_attempts, timeout_ms, errors,
       created_at, started_at, finished_at, lease_owner, lease_expires_at, step, checkpoint,
       parent_id, children_total, children_pending, progress, result, attempts_used, serial_key, serial_held
