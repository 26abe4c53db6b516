-- Cluster-wide concurrency limits (docs/regulation.md), as on PostgreSQL (its 015_limits.sql
-- says how they work; the sweep's recount is gate_recount.sql here). The fetch's BEGIN IMMEDIATE already keeps every fetch and release apart,
-- so there is no lock of their own here.
CREATE TABLE spindle_limits (
  name TEXT PRIMARY KEY,
  capacity INTEGER NOT NULL CHECK (capacity BETWEEN 1 AND 1000000),
  queue TEXT,
  kind TEXT,
  key TEXT,
  registered_at INTEGER NOT NULL
);

CREATE TABLE spindle_gates (
  gate TEXT PRIMARY KEY,
  held INTEGER NOT NULL CHECK (held >= 0)  -- how many leased jobs hold it now
) WITHOUT ROWID;

ALTER TABLE spindle_jobs ADD COLUMN gates TEXT;      -- JSON array: the gates its attempt took
ALTER TABLE spindle_jobs ADD COLUMN gate_wait TEXT;  -- parked: waits for room at this gate

DROP INDEX spindle_jobs_fetch_idx;
CREATE INDEX spindle_jobs_fetch_idx ON spindle_jobs (queue, priority, run_at, id)
  WHERE state IN ('scheduled', 'available', 'retryable') AND NOT serial_held
    AND gate_wait IS NULL;
DROP INDEX spindle_jobs_deadline_idx;
CREATE INDEX spindle_jobs_deadline_idx ON spindle_jobs (queue, priority, deadline, run_at, id)
  WHERE deadline IS NOT NULL AND state IN ('scheduled', 'available', 'retryable')
    AND NOT serial_held AND gate_wait IS NULL;
CREATE INDEX spindle_jobs_parked_idx ON spindle_jobs (gate_wait, priority, run_at, id)
  WHERE gate_wait IS NOT NULL;

-- A lease ended: its places in its gates are given back (and the job's `gates` cleared, so that
-- nothing gives them back twice), and each of its gates that now has room and a line lets the
-- first job in its line go (a gate whose limit went lets go of one too; the next sweep lets go of
-- the rest).
CREATE TRIGGER spindle_jobs_gates_released AFTER UPDATE OF lease_expires_at ON spindle_jobs
  WHEN OLD.gates IS NOT NULL AND OLD.lease_expires_at IS NOT NULL
    AND NEW.lease_expires_at IS NULL
BEGIN
  UPDATE spindle_gates SET held = max(held - 1, 0)
  WHERE gate IN (SELECT value FROM json_each(OLD.gates));
  UPDATE spindle_jobs SET gates = NULL WHERE id = NEW.id;
  UPDATE spindle_jobs SET gate_wait = NULL
  WHERE id IN (
    SELECT (SELECT w.id FROM spindle_jobs w WHERE w.gate_wait = g.value
            ORDER BY w.priority, w.run_at, w.id LIMIT 1)
    FROM json_each(OLD.gates) AS g
    -- Most releases find nobody waiting (a limit that is not the bottleneck): they count nothing.
    WHERE EXISTS (SELECT 1 FROM spindle_jobs w WHERE w.gate_wait = g.value)
      AND coalesce((SELECT l.capacity FROM spindle_limits l
                    WHERE l.name = CASE WHEN instr(g.value, '/') > 0
                                       THEN substr(g.value, 1, instr(g.value, '/') - 1)
                                       ELSE g.value END), 1000000000)
          > coalesce((SELECT h.held FROM spindle_gates h WHERE h.gate = g.value), 0));
END;

-- A parked job let go wakes its queue's workers in this process (006's notices, which the store
-- hands to them after the commit); other processes find it by polling.
CREATE TRIGGER spindle_jobs_gate_opened AFTER UPDATE OF gate_wait ON spindle_jobs
  WHEN OLD.gate_wait IS NOT NULL AND NEW.gate_wait IS NULL
    AND NEW.state IN ('scheduled', 'available', 'retryable')
BEGIN
  INSERT INTO spindle_notices (queue) VALUES (NEW.queue);
END;

-- A parked job whose state changes waits no more: if it may run again, the fetch decides anew.
CREATE TRIGGER spindle_jobs_gate_left AFTER UPDATE OF state ON spindle_jobs
  WHEN OLD.gate_wait IS NOT NULL AND NEW.state IS NOT OLD.state
BEGIN
  UPDATE spindle_jobs SET gate_wait = NULL WHERE id = NEW.id;
END;
