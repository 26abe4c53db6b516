-- Applies one finished attempt, fenced as on PostgreSQL (see its job_finish_many.sql):
-- ?1 now, ?2 worker, ?3 id, ?4 attempt, ?5 kind, ?6 message, ?7 delay ms, ?8 now as text,
-- ?9 the result of a completed one (JSON text or NULL). A child's parent counts it (a trigger).
-- Refused (no row): job_lease_end.sql follows.
UPDATE spindle_jobs
SET state = CASE
      WHEN ?5 = 'completed' THEN 'completed'
      WHEN ?5 = 'discard' THEN 'failed'
      WHEN ?5 = 'error' AND attempts_used >= max_attempts THEN 'failed'
      WHEN ?5 = 'error' THEN 'retryable'
      WHEN ?7 > 0 AND NOT wake_requested THEN 'scheduled'
      ELSE 'available' END,
    attempts_used = CASE WHEN ?5 = 'release' THEN attempts_used - 1 ELSE attempts_used END,
    run_at = CASE WHEN ?5 = 'release' AND wake_requested THEN ?1
                  WHEN ?5 IN ('error', 'release') THEN ?1 + ?7 * 1000 ELSE run_at END,
    wake_requested = 0,
    finished_at = CASE WHEN ?5 IN ('completed', 'discard')
                         OR (?5 = 'error' AND attempts_used >= max_attempts)
                       THEN ?1 END,
    errors = CASE WHEN ?5 IN ('error', 'discard')
                  THEN json_insert(errors, '$[#]',
                                   json_object('attempt', attempt, 'at', ?8, 'error', ?6))
                  ELSE errors END,
    result = CASE WHEN ?5 = 'completed' THEN ?9 ELSE result END,
    progress = CASE WHEN ?5 = 'completed' THEN NULL ELSE progress END,
    lease_owner = NULL,
    lease_expires_at = NULL,
    gates = NULL  -- their places are given back by the caller, for the batch (gates_give_back.sql)
WHERE id = ?3 AND attempt = ?4 AND state = 'running' AND lease_owner = ?2
RETURNING queue, state
