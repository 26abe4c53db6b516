-- Stops the cluster with reason $2 unless it is stopped. Nothing is fetched until it resumes; the
-- running jobs are handed back (available, attempt not counted) and their workers told; each
-- keeps its attempt's lease, so it runs again only once that attempt's process is gone
-- (job_fetch.sql). No row: already stopped.
WITH c AS (
  UPDATE spindle.cluster SET stopped_at = coalesce($1, now()), stop_reason = $2
  WHERE stopped_at IS NULL
  RETURNING stopped_at, stop_reason
), old AS (
  SELECT id, lease_owner FROM spindle.jobs
  WHERE state = 'running' AND EXISTS (SELECT 1 FROM c)
  FOR UPDATE
), released AS (
  UPDATE spindle.jobs j
  SET state = 'available', run_at = coalesce($1, now()), attempts_used = j.attempts_used - 1
  FROM old
  WHERE j.id = old.id
  RETURNING old.lease_owner AS told
), told AS (
  SELECT pg_notify('spindle_control', told) FROM (SELECT DISTINCT told FROM released) r
)
SELECT stopped_at, stop_reason FROM c WHERE (SELECT count(*) FROM told) >= 0
