-- Children, results and progress (docs/jobs.md), as PostgreSQL's 006_children.sql.
--
-- A step may enqueue child jobs with its checkpoint; the parent then waits (state 'waiting')
-- until its last child reaches a final state. children_total counts its children and
-- children_pending the unfinished ones: a trigger keeps it, so every path that finishes a job (a
-- worker's outcome, a rescue, a cancel) counts; the write lock serializes children that finish
-- at once.
--
-- The state CHECK gains 'waiting', which SQLite can only do by rebuilding the table (its
-- "making other kinds of table schema changes" procedure): a new table, a copy, the old one
-- dropped, the new one renamed, and every index recreated. Triggers of the application's on
-- spindle_jobs go with the old table. The migrator's transaction covers it all.

CREATE TABLE spindle_jobs_new (
  id               TEXT PRIMARY KEY,
  kind             TEXT NOT NULL CHECK (length(kind) BETWEEN 1 AND 255),
  queue            TEXT NOT NULL DEFAULT 'default' CHECK (length(queue) BETWEEN 1 AND 255),
  args             TEXT NOT NULL DEFAULT '{}' CHECK (json_type(args) = 'object'),
  priority         INTEGER NOT NULL DEFAULT 0,
  run_at           INTEGER NOT NULL,
  state            TEXT NOT NULL DEFAULT 'available' CHECK (state IN (
                     'scheduled', 'available', 'running', 'retryable', 'waiting',
                     'completed', 'failed', 'cancelled', 'stopped', 'expired')),
  attempt          INTEGER NOT NULL DEFAULT 0,
  max_attempts     INTEGER NOT NULL DEFAULT 25 CHECK (max_attempts >= 1),
  timeout_ms       INTEGER CHECK (timeout_ms > 0),
  errors           TEXT NOT NULL DEFAULT '[]',
  created_at       INTEGER NOT NULL,
  started_at       INTEGER,
  finished_at      INTEGER,
  lease_owner      TEXT,
  lease_expires_at INTEGER,
  step             TEXT,
  checkpoint       TEXT CHECK (checkpoint IS NULL OR json_valid(checkpoint)),
  wake_requested   INTEGER NOT NULL DEFAULT 0,
  parent_id        TEXT,
  children_total   INTEGER NOT NULL DEFAULT 0,
  children_pending INTEGER NOT NULL DEFAULT 0,
  progress         TEXT CHECK (progress IS NULL OR json_valid(progress)),
  result           TEXT CHECK (result IS NULL OR json_valid(result))
);

INSERT INTO spindle_jobs_new (id, kind, queue, args, priority, run_at, state, attempt,
                              max_attempts, timeout_ms, errors, created_at, started_at,
                              finished_at, lease_owner, lease_expires_at, step, checkpoint,
                              wake_requested)
SELECT id, kind, queue, args, priority, run_at, state, attempt, max_attempts, timeout_ms, errors,
       created_at, started_at, finished_at, lease_owner, lease_expires_at, step, checkpoint,
       wake_requested
FROM spindle_jobs;

DROP TABLE spindle_jobs;
ALTER TABLE spindle_jobs_new RENAME TO spindle_jobs;

-- The indexes of 001 and 002, as they were.
CREATE INDEX spindle_jobs_fetch_idx ON spindle_jobs (queue, priority, run_at, id)
  WHERE state IN ('scheduled', 'available', 'retryable');
CREATE INDEX spindle_jobs_lease_idx ON spindle_jobs (lease_expires_at) WHERE lease_expires_at IS NOT NULL;
CREATE INDEX spindle_jobs_state_idx ON spindle_jobs (state, created_at);
CREATE INDEX spindle_jobs_parent_idx ON spindle_jobs (parent_id) WHERE parent_id IS NOT NULL;

-- SQLite's stand-in for pg_notify in a trigger: the triggers below leave notices here (wake
-- queue `queue`, tell worker `worker`), and the store whose change fired them takes them in the
-- same transaction and hands them to this process's listeners after the commit.
CREATE TABLE spindle_notices (
  queue  TEXT,
  worker TEXT
);

-- A child became final (-1) or was retried out of a final state (+1). The last child is a
-- wake-up for its parent: a waiting or napping parent becomes available (and its queue is woken),
-- a running one keeps it for its next nap (wake_requested), as JobWake does.
CREATE TRIGGER spindle_jobs_child_changed AFTER UPDATE OF state ON spindle_jobs
WHEN NEW.parent_id IS NOT NULL
  AND (NEW.state IN ('completed', 'failed', 'cancelled', 'expired'))
      <> (OLD.state IN ('completed', 'failed', 'cancelled', 'expired'))
BEGIN
  UPDATE spindle_jobs
  SET children_pending = children_pending
                         + CASE WHEN NEW.state IN ('completed', 'failed', 'cancelled', 'expired')
                                THEN -1 ELSE 1 END,
      state = CASE WHEN state IN ('waiting', 'scheduled') AND children_pending = 1
                        AND NEW.state IN ('completed', 'failed', 'cancelled', 'expired')
                   THEN 'available' ELSE state END,
      run_at = CASE WHEN state = 'scheduled' AND children_pending = 1
                         AND NEW.state IN ('completed', 'failed', 'cancelled', 'expired')
                    THEN CAST((julianday('now') - 2440587.5) * 86400000000 AS INTEGER)
                    ELSE run_at END,
      wake_requested = wake_requested OR (state = 'running' AND children_pending = 1
                         AND NEW.state IN ('completed', 'failed', 'cancelled', 'expired'))
  WHERE id = NEW.parent_id;
  INSERT INTO spindle_notices (queue)
  SELECT queue FROM spindle_jobs WHERE id = NEW.parent_id AND state = 'available';
END;

-- A cancelled job's unfinished children are cancelled too, and theirs. SQLite does not fire a
-- trigger from its own statements (recursive_triggers is off), so one statement cancels every
-- unfinished descendant reached through unfinished jobs, as PostgreSQL's trigger does level by
-- level.
CREATE TRIGGER spindle_jobs_parent_cancelled AFTER UPDATE OF state ON spindle_jobs
WHEN NEW.state = 'cancelled' AND OLD.state <> 'cancelled'
BEGIN
  UPDATE spindle_jobs
  SET state = 'cancelled', finished_at = NEW.finished_at, lease_owner = NULL,
      lease_expires_at = NULL
  WHERE id IN (
    WITH RECURSIVE unfinished (id) AS (
      SELECT id FROM spindle_jobs
      WHERE parent_id = NEW.id AND state NOT IN ('completed', 'failed', 'cancelled', 'expired')
      UNION ALL
      SELECT j.id FROM spindle_jobs j JOIN unfinished u ON j.parent_id = u.id
      WHERE j.state NOT IN ('completed', 'failed', 'cancelled', 'expired'))
    SELECT id FROM unfinished);
END;

-- A running job stopped or cancelled, by a person or with its parent: its worker is told.
CREATE TRIGGER spindle_jobs_taken AFTER UPDATE OF state ON spindle_jobs
WHEN OLD.state = 'running' AND NEW.state IN ('stopped', 'cancelled')
BEGIN
  INSERT INTO spindle_notices (worker) VALUES (OLD.lease_owner);
END;
