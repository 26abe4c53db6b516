-- Wakes job $2: a napping (scheduled), backing-off (retryable) or waiting (for its children) job
-- becomes due now; a running one keeps the wake-up, so that a nap it takes next ends at once; an
-- available one is due already. No row: unknown id or illegal transition (a finished or stopped job).
WITH changed AS (
  UPDATE spindle.jobs
  SET state = CASE WHEN state IN ('scheduled', 'retryable', 'waiting') THEN 'available'
                   ELSE state END,
      run_at = CASE WHEN state IN ('scheduled', 'retryable', 'waiting') THEN coalesce($1, now())
                    ELSE run_at END,
      wake_requested = state = 'running'
  WHERE id = $2 AND state IN ('scheduled', 'available', 'retryable', 'running', 'waiting')
  RETURNING id, kind, queue, args, priority, run_at, state, attempt, max_attempts, timeout_ms,
            errors, created_at, started_at, finished_at, lease_owner, lease_expires_at, step,
            checkpoint, parent_id, children_total, children_pending, progress, result, attempts_used, serial_key, serial_held
)
SELECT *, pg_notify('spindle_jobs', queue) FROM changed
