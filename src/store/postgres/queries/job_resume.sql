-- Makes stopped job $2 available again (waiting, while it has unfinished children; scheduled,
-- while the run_at it was stopped with is still ahead) and wakes its queue's workers. No row:
-- unknown id or illegal transition.
WITH changed AS (
  UPDATE spindle.jobs
  SET state = CASE WHEN children_pending > 0 THEN 'waiting'
                   WHEN run_at > coalesce($1, now()) THEN 'scheduled'
                   ELSE 'available' END::spindle.job_state,
      run_at = greatest(run_at, coalesce($1, now()))
  WHERE id = $2 AND state = 'stopped'
  RETURNING id, kind, queue, args, priority, run_at, state, attempt, max_attempts, timeout_ms,
            errors, created_at, started_at, finished_at, lease_owner, lease_expires_at, step, checkpoint,
            parent_id, children_total, children_pending, progress, result, attempts_used, serial_key, serial_held
)
SELECT *, pg_notify('spindle_jobs', queue || chr(31) || (extract(epoch FROM now()) * 1000000)::bigint) FROM changed
