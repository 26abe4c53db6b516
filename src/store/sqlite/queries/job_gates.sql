-- The gates that the jobs of JSON array ?1 (ids) hold (docs/regulation.md), read by a finish
-- before its updates clear them: a job's gates do not change while its lease lasts.
SELECT id, attempt, gates FROM spindle_jobs
WHERE id IN (SELECT value FROM json_each(?1)) AND gates IS NOT NULL
