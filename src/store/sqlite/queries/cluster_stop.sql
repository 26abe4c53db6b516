-- Stops the cluster at ?1 with reason ?2 unless it is stopped. No row: already stopped.
UPDATE spindle_cluster SET stopped_at = ?1, stop_reason = ?2
WHERE stopped_at IS NULL
RETURNING stopped_at, stop_reason
