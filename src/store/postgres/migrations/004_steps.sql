-- Multi-step jobs (Worker::RegisterSteps): the step to run next and the checkpoint saved with the
-- last finished step.
ALTER TABLE spindle.jobs ADD COLUMN step text, ADD COLUMN checkpoint jsonb;
