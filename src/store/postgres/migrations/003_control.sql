-- Job control (docs/jobs.md): paused queues and the cluster's stop switch.

CREATE TABLE spindle.queues (
  name      text PRIMARY KEY,
  paused_at timestamptz
);

ALTER TABLE spindle.cluster
  ADD COLUMN stopped_at  timestamptz,
  ADD COLUMN stop_reason text NOT NULL DEFAULT '';
