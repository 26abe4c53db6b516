-- Saves what attempt ?4 of job ?3 reports while it runs under worker ?2 (fenced), as on
-- PostgreSQL (see its job_save.sql): the step to run next (?5), its checkpoint (?6), its progress
-- (?7); NULL keeps the saved one. ?8 > 0: the step enqueued that many children (in the same
-- transaction, after this) and the job waits for them from now (?1). No row: the worker lost
-- the job.
UPDATE spindle_jobs
SET step = coalesce(?5, step),
    checkpoint = coalesce(?6, checkpoint),
    progress = coalesce(?7, progress),
    state = CASE WHEN ?8 > 0 THEN 'waiting' ELSE state END,
    children_total = children_total + ?8,
    children_pending = children_pending + ?8,
    run_at = CASE WHEN ?8 > 0 THEN ?1 ELSE run_at END,
    attempts_used = CASE WHEN ?8 > 0 THEN attempts_used - 1 ELSE attempts_used END,
    wake_requested = CASE WHEN ?8 > 0 THEN 0 ELSE wake_requested END,
    lease_owner = CASE WHEN ?8 > 0 THEN NULL ELSE lease_owner END,
    lease_expires_at = CASE WHEN ?8 > 0 THEN NULL ELSE lease_expires_at END
WHERE id = ?3 AND attempt = ?4 AND state = 'running' AND lease_owner = ?2
RETURNING id
