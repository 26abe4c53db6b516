-- Returns up to $2 running jobs whose lease expired before $1 (their worker died or hung) to be
-- retried at once, or fails them when they are out of attempts; wakes idle workers.
WITH expired AS (
  SELECT id
  FROM spindle.jobs
  WHERE state = 'running' AND lease_expires_at < coalesce($1, now())
  ORDER BY lease_expires_at
  LIMIT $2
  FOR UPDATE SKIP LOCKED
), rescued AS (
  UPDATE spindle.jobs j
  SET state = (CASE WHEN j.attempts_used >= j.max_attempts THEN 'failed'
                    ELSE 'retryable' END)::spindle.job_state,
      run_at = coalesce($1, now()),
      finished_at = CASE WHEN j.attempts_used >= j.max_attempts THEN coalesce($1, now()) END,
      errors = j.errors || jsonb_build_array(jsonb_build_object(
                 'attempt', j.attempt, 'at', coalesce($1, now()),
                 'error', 'lease expired: worker ' || coalesce(j.lease_owner, '?') ||
                          ' stopped renewing it')),
      lease_owner = NULL,
      lease_expires_at = NULL
  FROM expired
  WHERE j.id = expired.id
  RETURNING j.queue, j.state
), woken AS (
  SELECT pg_notify('spindle_jobs', queue || chr(31) || (extract(epoch FROM now()) * 1000000)::bigint)
  FROM (SELECT DISTINCT queue FROM rescued WHERE state = 'retryable') AS due
)
SELECT count(*) FROM rescued WHERE (SELECT count(*) FROM woken) >= 0
