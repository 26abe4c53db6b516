-- Saves step ?5 (the one to run next) and checkpoint ?6 of attempt ?4 of job ?3, while it still
-- runs under worker ?2 (fenced). No row: the worker lost the job.
UPDATE spindle_jobs SET step = ?5, checkpoint = ?6
WHERE id = ?3 AND attempt = ?4 AND state = 'running' AND lease_owner = ?2
RETURNING id
