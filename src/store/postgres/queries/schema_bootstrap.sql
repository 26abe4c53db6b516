-- Run by the migrator at the start of its transaction. The advisory lock serializes migrators
-- of every process; the rest makes the bookkeeping table exist.
SELECT pg_advisory_xact_lock(7361626469);
CREATE SCHEMA IF NOT EXISTS spindle;
CREATE TABLE IF NOT EXISTS spindle.schema_migrations (
  version    integer PRIMARY KEY,
  name       text NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT now()
);
