-- Stops job ?2 when it waits (scheduled, available, retryable, waiting) or runs; it stays stopped
-- until a person resumes it. A running job's attempt does not count (attempts_used - 1, as a
-- hand-back), its late outcome is refused and its worker is told (a trigger). The lease stays
-- while the attempt's process may be alive (see job_fetch.sql).
-- No row: unknown id or illegal transition.
-- ?1 (now, as for every change of one job) is unused.
UPDATE spindle_jobs
SET state = 'stopped',
    attempts_used = CASE WHEN state = 'running' THEN attempts_used - 1 ELSE attempts_used END
WHERE id = ?2 AND state IN ('scheduled', 'available', 'running', 'retryable', 'waiting')
RETURNING id, kind, queue, args, priority, run_at, state, attempt, max_attempts, timeout_ms, errors,
       created_at, started_at, finished_at, lease_owner, lease_expires_at, step, checkpoint,
       parent_id, children_total, children_pending, progress, result, attempts_used, serial_key, serial_held
