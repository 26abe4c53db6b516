          -- What a fetch returns of each job it leased, in the order the store reads it.
          j.id, j.kind, j.queue, j.args, j.priority, j.run_at, j.state, j.attempt,
          j.max_attempts, j.timeout_ms, '[]'::jsonb, j.created_at, j.started_at, j.finished_at,
          j.lease_owner, j.lease_expires_at, j.step, j.checkpoint,
          j.parent_id, j.children_total, j.children_pending, j.progress,
          j.result, j.attempts_used, j.serial_key, j.serial_held,
          j.deadline, j.expires_at
