-- The expired leases of jobs that no longer run (stopped or cancelled while they ran, their
-- worker dead before it reported the attempt's end; docs/regulation.md) end at the rescue: the
-- release trigger gives back their places, which nothing else would. ?1 = now.
UPDATE spindle_jobs SET lease_owner = NULL, lease_expires_at = NULL
WHERE lease_expires_at IS NOT NULL AND lease_expires_at < ?1 AND state <> 'running'
