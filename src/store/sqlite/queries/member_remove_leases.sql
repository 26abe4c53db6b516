-- The leases of the removed members (JSON array ?2) expire now (?1), in every state: their running
-- jobs the rescuer takes, the jobs taken from them become fetchable.
UPDATE spindle_jobs SET lease_expires_at = ?1 - 1000
WHERE lease_expires_at IS NOT NULL
  AND lease_owner IN (SELECT value FROM json_each(?2))
