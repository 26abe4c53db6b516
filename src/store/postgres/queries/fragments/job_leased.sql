    -- What a fetch writes to each job it leases (job_fetch.sql's parameters: $1 = now, $4 the
    -- worker, $5 the lease in ms): a new attempt, running under the worker's lease.
    state = 'running',
    attempt = j.attempt + 1,
    attempts_used = j.attempts_used + 1,
    started_at = coalesce($1, now()),
    lease_owner = $4,
    lease_expires_at = coalesce($1, now()) + $5 * interval '1 millisecond'
