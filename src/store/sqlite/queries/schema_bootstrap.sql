-- Run by the migrator inside its BEGIN IMMEDIATE transaction (which serializes migrators of
-- every process on the file).
CREATE TABLE IF NOT EXISTS spindle_schema_migrations (
  version    INTEGER PRIMARY KEY,
  name       TEXT NOT NULL,
  applied_at INTEGER NOT NULL DEFAULT (CAST((julianday('now') - 2440587.5) * 86400000000 AS INTEGER))
)
