-- Makes finished job $2 available again, with at least one more attempt (as Oban does), and
-- wakes its queue's workers.
WITH changed AS (
  UPDATE spindle.jobs
  SET state = 'available', run_at = coalesce($1, now()), finished_at = NULL,
      max_attempts = greatest(max_attempts, attempts_used + 1)
  WHERE id = $2 AND state IN ('completed', 'failed', 'cancelled')
  RETURNING id, kind, queue, args, priority, run_at, state, attempt, max_attempts, timeout_ms,
            errors, created_at, started_at, finished_at, lease_owner, lease_expires_at, step, checkpoint,
            parent_id, children_total, children_pending, progress, result, attempts_used, serial_key, serial_held
)
SELECT *, pg_notify('spindle_jobs', queue) FROM changed
