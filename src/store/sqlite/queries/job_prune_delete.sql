-- Deletes the jobs of ?1 (a JSON array of ids that job_prune.sql picked in this transaction).
DELETE FROM spindle_jobs WHERE id IN (SELECT value FROM json_each(?1))
