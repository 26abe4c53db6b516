-- Makes stopped job ?2 available now (?1): waiting while it has unfinished children, scheduled
-- while the run_at it was stopped with is still ahead. No row: unknown id or illegal transition.
UPDATE spindle_jobs
SET state = CASE WHEN children_pending > 0 THEN 'waiting'
                 WHEN run_at > ?1 THEN 'scheduled'
                 ELSE 'available' END,
    run_at = max(run_at, ?1)
WHERE id = ?2 AND state = 'stopped'
RETURNING id, kind, queue, args, priority, run_at, state, attempt, max_attempts, timeout_ms, errors,
       created_at, started_at, finished_at, lease_owner, lease_expires_at, step, checkpoint,
       parent_id, children_total, children_pending, progress, result, attempts_used, serial_key, serial_held
