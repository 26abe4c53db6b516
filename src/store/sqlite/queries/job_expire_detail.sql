-- Says why job ?1 expired (?2) in the history entry its expiry just wrote (the trigger of
-- migration 007 writes it without a detail).
UPDATE spindle_job_events SET detail = ?2
WHERE seq = (SELECT max(seq) FROM spindle_job_events WHERE job_id = ?1)
  AND type = 'expired' AND detail = ''
