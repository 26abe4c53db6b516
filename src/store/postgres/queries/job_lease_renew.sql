-- Extends the lease of every job running under worker $2 by $3 ms from now ($1).
UPDATE spindle.jobs
SET lease_expires_at = coalesce($1, now()) + $3 * interval '1 millisecond'
WHERE state = 'running' AND lease_owner = $2
