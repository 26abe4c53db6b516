-- Resource pools (docs/regulation.md): a limit whose `units` names the kinds that use it, each
-- job of such a kind taking that many units of its capacity while it runs. A job that takes n
-- units holds its gate n times in `gates` (015): the lease takes n (job_lease.sql counts the
-- entries), the sweep recounts n, and a release gives back n.
ALTER TABLE spindle.limits ADD COLUMN units jsonb;  -- {"kind": units, ...}; NULL: one per job

CREATE OR REPLACE FUNCTION spindle.gates_released() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  g text;
BEGIN
  PERFORM pg_advisory_xact_lock(7361626470);
  UPDATE spindle.gates h SET held = greatest(h.held - x.n, 0)
  FROM (SELECT e.gate, count(*) AS n FROM jsonb_array_elements_text(OLD.gates) AS e(gate)
        GROUP BY e.gate) x
  WHERE h.gate = x.gate;
  NEW.gates := NULL;
  FOR g IN SELECT DISTINCT e.gate FROM jsonb_array_elements_text(OLD.gates) AS e(gate) LOOP
    PERFORM spindle.gate_open(g);
  END LOOP;
  RETURN NEW;
END
$$;
