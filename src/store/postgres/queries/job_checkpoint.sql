-- Saves step $4 (the one to run next) and checkpoint $5 of attempt $3 of job $2, while it still
-- runs under worker $1 (fenced). No row: the worker lost the job.
UPDATE spindle.jobs SET step = $4, checkpoint = $5::jsonb
WHERE id = $2 AND attempt = $3 AND state = 'running' AND lease_owner = $1
RETURNING id
