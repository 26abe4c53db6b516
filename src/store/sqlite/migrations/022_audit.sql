-- The audit trail, as on PostgreSQL (see its 022_audit.sql). Times in microseconds since the epoch.
CREATE TABLE spindle_audit (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  at INTEGER NOT NULL,
  who TEXT NOT NULL,
  method TEXT NOT NULL,
  path TEXT NOT NULL,
  status INTEGER NOT NULL,
  error TEXT
);
