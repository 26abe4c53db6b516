-- Resource pools (docs/regulation.md), as on PostgreSQL (its 016_pools.sql says how): a job that
-- takes n units of a pool holds its gate n times in `gates`, and a release gives back n.
ALTER TABLE spindle_limits ADD COLUMN units TEXT;  -- JSON {"kind": units, ...}; NULL: one per job

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
  UPDATE spindle_jobs SET gate_wait = NULL
  WHERE id IN (
    SELECT (SELECT w.id FROM spindle_jobs w WHERE w.gate_wait = g.value
            ORDER BY w.priority, w.run_at, w.id LIMIT 1)
    FROM (SELECT DISTINCT value FROM json_each(OLD.gates)) AS g
    -- Most releases find nobody waiting (a limit that is not the bottleneck): they count nothing.
    WHERE EXISTS (SELECT 1 FROM spindle_jobs w WHERE w.gate_wait = g.value)
      AND coalesce((SELECT l.capacity FROM spindle_limits l
                    WHERE l.name = CASE WHEN instr(g.value, '/') > 0
                                       THEN substr(g.value, 1, instr(g.value, '/') - 1)
                                       ELSE g.value END), 1000000000)
          > coalesce((SELECT h.held FROM spindle_gates h WHERE h.gate = g.value), 0));
END;
