-- Grows whenever a running job is taken from its worker (migration 010): a listener that saw it
-- move tells its worker to ask which of its jobs to give up.
SELECT control_version FROM spindle_cluster
