-- The backends share their migrations' numbering. On SQLite, 019 lets a finish clear a job's
-- gates in its own update; PostgreSQL's finish statement already does (job_finish_many.sql).
SELECT 1;
