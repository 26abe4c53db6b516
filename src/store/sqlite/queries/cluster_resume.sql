-- Resumes a stopped cluster. No row: not stopped.
UPDATE spindle_cluster SET stopped_at = NULL, stop_reason = ''
WHERE stopped_at IS NOT NULL
RETURNING stopped_at, stop_reason
