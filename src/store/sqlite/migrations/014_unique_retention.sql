-- Unique jobs (docs/jobs.md, "Unique jobs"), as PostgreSQL's 014_unique_retention.sql: a job
-- enqueued with a unique key holds it while it is in one of its unique_states, which the partial
-- unique index enforces. unique_states is a list of state names between commas
-- (',scheduled,available,'), so that the index's condition is a deterministic built-in
-- expression; unique_bucket the start of the job's period (microseconds, a multiple of 1000; NULL: no
-- period, -1 in the index).
ALTER TABLE spindle_jobs ADD COLUMN unique_key TEXT
  CHECK (length(CAST(unique_key AS BLOB)) BETWEEN 1 AND 1000);
ALTER TABLE spindle_jobs ADD COLUMN unique_bucket INTEGER;
ALTER TABLE spindle_jobs ADD COLUMN unique_states TEXT
  CHECK ((unique_key IS NULL) = (unique_states IS NULL));
CREATE UNIQUE INDEX spindle_jobs_unique_idx
  ON spindle_jobs (unique_key, coalesce(unique_bucket, -1))
  WHERE unique_key IS NOT NULL AND instr(unique_states, ',' || state || ',') > 0;
-- Serial keys' triggers (013) fire AFTER INSERT here, so a unique job that ON CONFLICT DO
-- NOTHING skips takes no place in its serial key's line: nothing to change for them (PostgreSQL's
-- BEFORE trigger needs the change in its 014).
