    -- Which jobs a fetch may take (job_fetch.sql's parameters), as on PostgreSQL (see its
    -- fragments/job_fetchable.sql): due jobs of queue ?2 whose kind is in ?6, in partitions ?8
    -- of ?7, due at least ?9 ms ago, not held behind their serial key, not past their expiry
    -- (a job taken from a running worker keeps that attempt's lease while its process may
    -- live), from a queue not paused, while the cluster runs.
    state IN ('scheduled', 'available', 'retryable')
    AND NOT serial_held
    AND gate_wait IS NULL  -- parked at a full gate of a limit (not in the indexes)
    AND queue = ?2
    AND run_at <= ?1 - ?9 * 1000
    AND (lease_expires_at IS NULL OR lease_expires_at <= ?1)
    AND (expires_at IS NULL OR expires_at > ?1)
    AND (?7 = 0 OR spindle_partition(id, ?7) IN (SELECT value FROM json_each(?8)))
    AND kind IN (SELECT value FROM json_each(?6))
    AND NOT EXISTS (SELECT 1 FROM spindle_queues q WHERE q.name = ?2 AND q.paused_at IS NOT NULL)
    AND (SELECT stopped_at FROM spindle_cluster) IS NULL
