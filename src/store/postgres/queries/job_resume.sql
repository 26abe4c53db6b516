-- Makes stopped job $2 available again (waiting, while it has unfinished children) and wakes its
-- queue's workers. No row: unknown id or illegal transition.
WITH changed AS (
  UPDATE spindle.jobs
  SET state = CASE WHEN children_pending > 0 THEN 'waiting' ELSE 'available' END::spindle.job_state,
      run_at = coalesce($1, now())
  WHERE id = $2 AND state = 'stopped'
  RETURNING id, kind, queue, args, priority, run_at, state, attempt, max_attempts, timeout_ms,
            errors, created_at, started_at, finished_at, lease_owner, lease_expires_at, step, checkpoint,
            parent_id, children_total, children_pending, progress, result
)
SELECT *, pg_notify('spindle_jobs', queue) FROM changed
