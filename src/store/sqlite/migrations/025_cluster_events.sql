-- The cluster's history, as on PostgreSQL (see its 025_cluster_events.sql). Times in
-- microseconds since the epoch.
CREATE TABLE spindle_cluster_events (
  id     INTEGER PRIMARY KEY AUTOINCREMENT,
  at     INTEGER NOT NULL,
  kind   TEXT NOT NULL,
  worker TEXT NOT NULL,
  detail TEXT NOT NULL
);
