-- The running jobs of the removed members (JSON array ?2) expire now (?1): the rescuer takes them.
UPDATE spindle_jobs SET lease_expires_at = ?1 - 1000
WHERE state = 'running' AND lease_expires_at IS NOT NULL
  AND lease_owner IN (SELECT value FROM json_each(?2))
