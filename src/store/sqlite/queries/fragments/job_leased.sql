    -- What a fetch writes to each job it leases (job_fetch.sql's parameters: ?1 = now, ?4 the
    -- worker, ?5 the lease in ms): a new attempt, running under the worker's lease.
    state = 'running',
    attempt = attempt + 1,
    attempts_used = attempts_used + 1,
    started_at = ?1,
    lease_owner = ?4,
    lease_expires_at = ?1 + ?5 * 1000
