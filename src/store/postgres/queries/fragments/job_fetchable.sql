    -- Which jobs a fetch may take (job_fetch.sql's parameters): due jobs of queue $2 whose kind
    -- is one of $6, in partitions $8 of $7, due at least $9 ms ago, not held behind their
    -- serial key, not past their expiry, from a queue not paused, while the cluster runs.
    state IN ('scheduled', 'available', 'retryable')
    AND NOT serial_held  -- waits behind another job of its serial key (not in the indexes)
    AND gate_wait IS NULL  -- parked at a full gate of a limit (not in the indexes)
    AND queue = $2
    AND run_at <= coalesce($1, now()) - $9 * interval '1 millisecond'
    -- A job taken from a running worker (stopped, cancelled, the cluster stopped) keeps that
    -- attempt's lease while its process may live: it runs again only once the attempt's outcome
    -- ended the lease (job_finish_many.sql) or the lease expired, never beside it.
    AND (lease_expires_at IS NULL OR lease_expires_at <= coalesce($1, now()))
    -- Past its expires_at a job never starts; the expirer makes it `expired` (job_expire.sql).
    AND (expires_at IS NULL OR expires_at > coalesce($1, now()))
    AND ($7 = 0 OR (get_byte(uuid_send(id), 14) * 256 + get_byte(uuid_send(id), 15))
                   * $7 / 65536 = ANY ($8::int[]))
    AND kind = ANY ($6::text[])
    AND NOT EXISTS (SELECT 1 FROM spindle.queues q WHERE q.name = $2 AND q.paused_at IS NOT NULL)
    AND (SELECT c.stopped_at FROM spindle.cluster c) IS NULL
