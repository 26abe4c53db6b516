-- Multi-step jobs (Worker::RegisterSteps): the step to run next and the checkpoint saved with the
-- last finished step (JSON text).
ALTER TABLE spindle_jobs ADD COLUMN step TEXT;
ALTER TABLE spindle_jobs ADD COLUMN checkpoint TEXT CHECK (checkpoint IS NULL OR json_valid(checkpoint));
