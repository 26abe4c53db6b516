-- Deletes finished job ?1 unless it has unfinished children, or an unfinished parent, which may
-- still read it. No row: unknown id or refused. Its history: job_events_delete.sql.
DELETE FROM spindle_jobs
WHERE id = ?1 AND state IN ('completed', 'failed', 'cancelled', 'expired') AND children_pending = 0
  AND NOT EXISTS (SELECT 1 FROM spindle_jobs p
                  WHERE p.id = spindle_jobs.parent_id
                    AND p.state NOT IN ('completed', 'failed', 'cancelled', 'expired'))
RETURNING id, kind, queue, args, priority, run_at, state, attempt, max_attempts, timeout_ms, errors,
       created_at, started_at, finished_at, lease_owner, lease_expires_at, step, checkpoint,
       parent_id, children_total, children_pending, progress, result, attempts_used, serial_key, serial_held
