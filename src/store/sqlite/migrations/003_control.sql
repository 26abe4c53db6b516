-- Job control (docs/jobs.md), as PostgreSQL's 003_control.sql: paused queues and the cluster's
-- stop switch. Times are microseconds since the epoch.

CREATE TABLE spindle_queues (
  name      TEXT PRIMARY KEY,
  paused_at INTEGER
);

ALTER TABLE spindle_cluster ADD COLUMN stopped_at INTEGER;
ALTER TABLE spindle_cluster ADD COLUMN stop_reason TEXT NOT NULL DEFAULT '';
