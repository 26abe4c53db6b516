-- A finish gives back its jobs' places itself, once per batch (JobFinishMany: gates_give_back.sql),
-- and clears their `gates` in its own update (job_finish.sql); the release trigger (016) leaves
-- such updates alone. It still releases one lease at a time for the other ways a lease ends.
DROP TRIGGER spindle_jobs_gates_released;
CREATE TRIGGER spindle_jobs_gates_released AFTER UPDATE OF lease_expires_at ON spindle_jobs
  WHEN OLD.gates IS NOT NULL AND NEW.gates IS NOT NULL AND OLD.lease_expires_at IS NOT NULL
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
