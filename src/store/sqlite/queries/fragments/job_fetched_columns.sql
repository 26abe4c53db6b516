          -- What a fetch returns of each job it leased, in the order the store reads it.
          id, kind, queue, args, priority, run_at, state, attempt, max_attempts, timeout_ms,
          '[]', created_at, started_at, finished_at, lease_owner, lease_expires_at, step, checkpoint,
          parent_id, children_total, children_pending, progress, result, attempts_used, serial_key, serial_held,
          deadline, expires_at
