-- Periodic jobs, as PostgreSQL's 012_schedules.sql: a slot's job is inserted only in the
-- transaction that moves `last_slot` forward to that slot, so each slot enqueues once.
CREATE TABLE spindle_schedules (
  name             TEXT PRIMARY KEY CHECK (length(name) BETWEEN 1 AND 255),
  cron             TEXT NOT NULL,
  zone             TEXT NOT NULL DEFAULT 'UTC',
  kind             TEXT NOT NULL CHECK (length(kind) BETWEEN 1 AND 255),
  args             TEXT NOT NULL DEFAULT '{}' CHECK (json_type(args) = 'object'),
  queue            TEXT CHECK (length(queue) BETWEEN 1 AND 255),
  priority         INTEGER,
  max_attempts     INTEGER CHECK (max_attempts >= 1),
  timeout_ms       INTEGER CHECK (timeout_ms > 0),
  jitter_ms        INTEGER NOT NULL DEFAULT 0 CHECK (jitter_ms >= 0),
  overrun          TEXT NOT NULL DEFAULT 'skip' CHECK (overrun IN ('skip', 'queue', 'replace')),
  catch_up         TEXT NOT NULL DEFAULT 'latest' CHECK (catch_up IN ('latest', 'none')),
  paused           INTEGER NOT NULL DEFAULT 0,
  last_slot        INTEGER NOT NULL,  -- microseconds, as every time here
  last_job_id      TEXT,
  last_enqueued_at INTEGER,
  created_at       INTEGER NOT NULL,
  updated_at       INTEGER NOT NULL
);
