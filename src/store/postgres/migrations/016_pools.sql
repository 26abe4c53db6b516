-- Resource pools (docs/regulation.md): a limit whose `units` names the kinds that use it, each
-- job of such a kind taking that many units of its capacity while it runs. A job that takes n
-- units holds its gate n times in `gates` (015): the lease takes n (job_lease.sql counts the
-- entries), the sweep recounts n, and a release gives back n (gates_release).
ALTER TABLE spindle.limits ADD COLUMN units jsonb;  -- {"kind": units, ...}; NULL: one per job

-- Gives back the places of ended leases in their gates: `released` lists one gate per unit held
-- (the `gates` of the jobs whose leases ended, together), and each gate that now has room lets go
-- of its waiting jobs (gate_open). Under the advisory lock. Returns how many jobs it let go.
CREATE FUNCTION spindle.gates_release(released jsonb) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
  g text;
  opened bigint := 0;
BEGIN
  PERFORM pg_advisory_xact_lock(7361626470);
  UPDATE spindle.gates h SET held = greatest(h.held - x.n, 0)
  FROM (SELECT e.gate, count(*) AS n FROM jsonb_array_elements_text(released) AS e(gate)
        GROUP BY e.gate) x
  WHERE h.gate = x.gate;
  FOR g IN SELECT DISTINCT e.gate FROM jsonb_array_elements_text(released) AS e(gate) LOOP
    opened := opened + spindle.gate_open(g);
  END LOOP;
  RETURN opened;
END
$$;

-- The trigger that releases one ended lease at a time (015) now leaves alone the updates that
-- clear `gates` themselves: the finish of a batch of outcomes (job_finish_many.sql) gives back the
-- places of all its jobs in one call of gates_release, one counter update per gate.
CREATE OR REPLACE FUNCTION spindle.gates_released() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM spindle.gates_release(OLD.gates);
  NEW.gates := NULL;
  RETURN NEW;
END
$$;
DROP TRIGGER jobs_gates_released ON spindle.jobs;
CREATE TRIGGER jobs_gates_released BEFORE UPDATE OF lease_expires_at ON spindle.jobs FOR EACH ROW
  WHEN (OLD.gates IS NOT NULL AND NEW.gates IS NOT NULL AND OLD.lease_expires_at IS NOT NULL
        AND NEW.lease_expires_at IS NULL)
  EXECUTE FUNCTION spindle.gates_released();
