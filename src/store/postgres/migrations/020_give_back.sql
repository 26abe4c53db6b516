-- A batch of outcomes gives its places back after its finish has committed, in a transaction of
-- its own (job_finish_many.sql, then gates_give_back.sql), so that the finish does not hold the
-- advisory lock while its commit is written to disk. Meanwhile what it will give back waits
-- here. The leader's sweep recounts the gates from the leases, which no longer include those
-- jobs, so it deletes the waiting rows after its recount, under the lock: a place is then given
-- back once, by the sweep's recount or by the late give-back, never by both. A row whose
-- give-back never came (its worker died in between) goes at the next sweep. Unlogged: after a
-- crash the table is empty, and the next recount is exact.
CREATE UNLOGGED TABLE spindle.gate_returns (
  id bigserial PRIMARY KEY,
  gates jsonb NOT NULL  -- one gate per unit, as in jobs.gates
);

-- Gives back the places that row `returned` of gate_returns waits to give back, unless the sweep
-- took it first. Returns how many parked jobs it let go.
CREATE FUNCTION spindle.gates_return(returned bigint) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
  g jsonb;
BEGIN
  PERFORM pg_advisory_xact_lock(7361626470);
  DELETE FROM spindle.gate_returns WHERE id = returned RETURNING gates INTO g;
  IF g IS NULL THEN
    RETURN 0;
  END IF;
  RETURN spindle.gates_release(g);
END
$$;
