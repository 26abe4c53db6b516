-- Stops job $2 when it waits (scheduled, available, retryable, waiting) or runs. It stays stopped until a
-- person resumes it. A running job's attempt does not count (attempts_used - 1, as a hand-back),
-- its worker is told (spindle_control) and its late outcome is refused. The lease stays: the
-- attempt's process may still be alive, and the job is not fetched again until it is gone
-- (job_fetch.sql). No row: unknown id or illegal transition.
-- $1 (now, as for every change of one job) is unused; the cast only gives it a type.
WITH old AS (
  SELECT id, state, lease_owner, $1::timestamptz AS unused FROM spindle.jobs WHERE id = $2
  FOR UPDATE
), changed AS (
  UPDATE spindle.jobs j
  SET state = 'stopped',
      attempts_used = CASE WHEN old.state = 'running' THEN j.attempts_used - 1
                           ELSE j.attempts_used END
  FROM old
  WHERE j.id = old.id AND old.state IN ('scheduled', 'available', 'running', 'retryable', 'waiting')
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
