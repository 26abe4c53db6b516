-- Kind defaults (docs/jobs.md, "Kind defaults"), and what each member serves, as PostgreSQL's
-- 009_kinds.sql: a worker records the defaults it declares for the kinds it handles when it
-- starts (the last one to start wins); every enqueue applies them to what its caller left unset.
CREATE TABLE spindle_kinds (
  kind          TEXT PRIMARY KEY CHECK (length(kind) BETWEEN 1 AND 255),
  queue         TEXT CHECK (length(queue) BETWEEN 1 AND 255),
  priority      INTEGER,
  max_attempts  INTEGER CHECK (max_attempts >= 1),
  timeout_ms    INTEGER CHECK (timeout_ms > 0),
  worker        TEXT NOT NULL,
  registered_at INTEGER NOT NULL
);

-- The kinds a member has handlers for (a JSON array), and each of its queues' concurrency (a
-- JSON object, {"queue": n}).
ALTER TABLE spindle_workers ADD COLUMN kinds TEXT NOT NULL DEFAULT '[]'
  CHECK (json_type(kinds) = 'array');
ALTER TABLE spindle_workers ADD COLUMN concurrency TEXT NOT NULL DEFAULT '{}'
  CHECK (json_type(concurrency) = 'object');
