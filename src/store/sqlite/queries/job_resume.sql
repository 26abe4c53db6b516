-- Makes stopped job ?2 available now (?1), or waiting while it has unfinished children. No row:
-- unknown id or illegal transition.
UPDATE spindle_jobs
SET state = CASE WHEN children_pending > 0 THEN 'waiting' ELSE 'available' END, run_at = ?1
WHERE id = ?2 AND state = 'stopped'
RETURNING id, kind, queue, args, priority, run_at, state, attempt, max_attempts, timeout_ms, errors,
       created_at, started_at, finished_at, lease_owner, lease_expires_at, step, checkpoint,
       parent_id, children_total, children_pending, progress, result
