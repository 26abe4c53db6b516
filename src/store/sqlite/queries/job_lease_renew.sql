-- Extends by ?3 ms from now (?1) the lease of attempt ?5 of job ?4, if worker ?2 still holds it
-- and it has not expired (an expired lease may be rescued at any moment, and an eviction must stay
-- final), whatever the job's state, as on PostgreSQL (see its job_lease_renew.sql).
UPDATE spindle_jobs
SET lease_expires_at = ?1 + ?3 * 1000
WHERE id = ?4 AND attempt = ?5 AND lease_owner = ?2 AND lease_expires_at > ?1
