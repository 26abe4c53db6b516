-- Wake-ups (docs/jobs.md): a wake-up that arrives while the job runs is kept here, so that a nap
-- the job then takes ends at once instead of being lost.
ALTER TABLE spindle_jobs ADD COLUMN wake_requested INTEGER NOT NULL DEFAULT 0;
