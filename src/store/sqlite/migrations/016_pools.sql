-- Resource pools (docs/regulation.md), as on PostgreSQL (its 016_pools.sql says how): a job that
-- takes n units of a pool holds its gate n times in `gates`, and a release gives back n.
ALTER TABLE spindle_limits ADD COLUMN units TEXT;  -- JSON {"kind": units, ...}; NULL: one per job

-- Gates that a release left with room and waiting jobs: the store opens each as far as it has
-- room (gate_open.sql) before it takes the transaction's notices (TakeNotices), once per gate and
-- transaction. (A trigger cannot: SQLite's LIMIT cannot depend on the row, so 015's trigger let
-- one job go per release, and a job that gave back 2 units let only one waiting job start.)
CREATE TABLE spindle_gate_wakes (
  gate TEXT PRIMARY KEY
) WITHOUT ROWID;

DROP TRIGGER spindle_jobs_gates_released;
CREATE TRIGGER spindle_jobs_gates_released AFTER UPDATE OF lease_expires_at ON spindle_jobs
  WHEN OLD.gates IS NOT NULL AND OLD.lease_expires_at IS NOT NULL
    AND NEW.lease_expires_at IS NULL
BEGIN
  UPDATE spindle_gates
  SET held = max(held - (SELECT count(*) FROM json_each(OLD.gates) AS x
                         WHERE x.value = spindle_gates.gate), 0)
  WHERE gate IN (SELECT value FROM json_each(OLD.gates));
  UPDATE spindle_jobs SET gates = NULL WHERE id = NEW.id;
  -- Most releases find nobody waiting (a limit that is not the bottleneck): they note nothing.
  INSERT OR IGNORE INTO spindle_gate_wakes (gate)
  SELECT DISTINCT g.value FROM json_each(OLD.gates) AS g
  WHERE EXISTS (SELECT 1 FROM spindle_jobs w WHERE w.gate_wait = g.value);
END;
