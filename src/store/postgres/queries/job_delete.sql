-- Deletes finished job $1 (its history goes with it: ON DELETE CASCADE) unless it has unfinished
-- children, or an unfinished parent, which may still read it. No row: unknown id or refused.
DELETE FROM spindle.jobs j
WHERE j.id = $1 AND j.state IN ('completed', 'failed', 'cancelled', 'expired') AND j.children_pending = 0
  AND NOT EXISTS (SELECT 1 FROM spindle.jobs p
                  WHERE p.id = j.parent_id
                    AND p.state NOT IN ('completed', 'failed', 'cancelled', 'expired'))
RETURNING j.id, j.kind, j.queue, j.args, j.priority, j.run_at, j.state, j.attempt,
          j.max_attempts, j.timeout_ms, j.errors, j.created_at, j.started_at, j.finished_at,
          j.lease_owner, j.lease_expires_at, j.step, j.checkpoint, j.parent_id, j.children_total,
          j.children_pending, j.progress, j.result, j.attempts_used, j.serial_key, j.serial_held
