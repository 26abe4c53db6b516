-- Cancels job $2 unless it has finished. A running job's worker is told (spindle_control) and
-- its late outcome is refused; the lease stays while the attempt's process may be alive. Its unfinished children are cancelled too (a trigger). No row: unknown id or illegal transition.
WITH old AS (
  SELECT id, state, lease_owner FROM spindle.jobs WHERE id = $2 FOR UPDATE
), changed AS (
  UPDATE spindle.jobs j
  SET state = 'cancelled', finished_at = coalesce($1, now())
  FROM old
  WHERE j.id = old.id AND old.state IN ('scheduled', 'available', 'running', 'retryable', 'stopped',
                                        'waiting')
  RETURNING j.id, j.kind, j.queue, j.args, j.priority, j.run_at, j.state, j.attempt,
            j.max_attempts, j.timeout_ms, j.errors, j.created_at, j.started_at, j.finished_at,
            j.lease_owner, j.lease_expires_at, j.step, j.checkpoint,
            j.parent_id, j.children_total, j.children_pending, j.progress,
          j.result, j.attempts_used, j.serial_key, j.serial_held, CASE WHEN old.state = 'running' THEN old.lease_owner END AS told
)
SELECT id, kind, queue, args, priority, run_at, state, attempt, max_attempts, timeout_ms, errors,
       created_at, started_at, finished_at, lease_owner, lease_expires_at, step, checkpoint,
       parent_id, children_total, children_pending, progress, result, attempts_used, serial_key, serial_held,
       -- Only a running job has a worker to tell (pg_notify would send a NULL as '').
       CASE WHEN told IS NOT NULL THEN pg_notify('spindle_control', told) END
FROM changed
