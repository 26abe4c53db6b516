-- Cancels job $2 unless it has finished. A running job's worker is told (spindle_control) and
-- its late outcome is refused. No row: unknown id or illegal transition.
WITH old AS (
  SELECT id, state, lease_owner FROM spindle.jobs WHERE id = $2 FOR UPDATE
), changed AS (
  UPDATE spindle.jobs j
  SET state = 'cancelled', finished_at = coalesce($1, now()), lease_owner = NULL,
      lease_expires_at = NULL
  FROM old
  WHERE j.id = old.id AND old.state IN ('scheduled', 'available', 'running', 'retryable', 'stopped')
  RETURNING j.id, j.kind, j.queue, j.args, j.priority, j.run_at, j.state, j.attempt,
            j.max_attempts, j.timeout_ms, j.errors, j.created_at, j.started_at, j.finished_at,
            j.lease_owner, j.lease_expires_at, j.step, j.checkpoint, old.lease_owner AS told
)
SELECT id, kind, queue, args, priority, run_at, state, attempt, max_attempts, timeout_ms, errors,
       created_at, started_at, finished_at, lease_owner, lease_expires_at, step, checkpoint,
       -- Only a running job has a worker to tell (pg_notify would send a NULL as '').
       CASE WHEN told IS NOT NULL THEN pg_notify('spindle_control', told) END
FROM changed
