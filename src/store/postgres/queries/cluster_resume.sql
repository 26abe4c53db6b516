-- Resumes a stopped cluster and wakes every worker of every queue with jobs due now ($1). No
-- row: not stopped.
WITH c AS (
  UPDATE spindle.cluster SET stopped_at = NULL, stop_reason = ''
  WHERE stopped_at IS NOT NULL
  RETURNING stopped_at, stop_reason
), woken AS (
  SELECT pg_notify('spindle_jobs', queue || chr(31) || (extract(epoch FROM now()) * 1000000)::bigint)
  FROM (SELECT DISTINCT queue FROM spindle.jobs
        WHERE state IN ('available', 'scheduled', 'retryable')
          AND run_at <= coalesce($1, now()) AND EXISTS (SELECT 1 FROM c)) q
)
SELECT stopped_at, stop_reason FROM c WHERE (SELECT count(*) FROM woken) >= 0
