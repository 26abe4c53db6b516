-- Returns up to ?3 running jobs whose lease expired before ?1 to be retried at once, or fails
-- them when they are out of attempts. ?2 = now as text.
UPDATE spindle_jobs
SET state = CASE WHEN attempts_used >= max_attempts THEN 'failed' ELSE 'retryable' END,
    run_at = ?1,
    finished_at = CASE WHEN attempts_used >= max_attempts THEN ?1 END,
    errors = json_insert(errors, '$[#]', json_object(
               'attempt', attempt, 'at', ?2,
               'error', 'lease expired: worker ' || coalesce(lease_owner, '?') ||
                        ' stopped renewing it')),
    lease_owner = NULL,
    lease_expires_at = NULL
WHERE id IN (
  SELECT id FROM spindle_jobs
  WHERE state = 'running' AND lease_expires_at < ?1
  ORDER BY lease_expires_at
  LIMIT ?3)
RETURNING queue, state
