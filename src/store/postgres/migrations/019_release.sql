-- The backends share their migrations' numbering. On SQLite, 019 lets a finish give back its
-- jobs' places once per batch, as PostgreSQL's finish statement already does (job_finish_many.sql).
SELECT 1;
