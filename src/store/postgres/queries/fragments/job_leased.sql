    -- What a fetch writes to each job it leases (job_fetch.sql's parameters: $1 = now, $4 the
    -- worker, $5 the lease in ms): a new attempt, running under the worker's lease. The lease
    -- runs from this statement, not from the transaction's start (now()): a regulated fetch
    -- that waited for its lock would otherwise hand out a lease that had already lapsed, for
    -- the rescuer to take back while the worker starts the job.
    state = 'running',
    attempt = j.attempt + 1,
    attempts_used = j.attempts_used + 1,
    started_at = coalesce($1, clock_timestamp()),
    lease_owner = $4,
    lease_expires_at = coalesce($1, clock_timestamp()) + $5 * interval '1 millisecond'
