-- The sweep, as in 017, with two changes (Store::LimitSweep):
-- - It deletes the places that finished batches wait to give back (gate_returns, migration 020)
--   in its recount's own statement: one snapshot decides both. A finish that committed before it
--   is no longer counted and its row goes, so its late give-back finds nothing; one that commits
--   after it is still counted and its row stays, for its give-back. Either way a place is given
--   back once. (020 left that to the worker, in a later statement: a finish that committed in
--   between was counted too long, until the next sweep.)
-- - Its recount is optional. Recounting every gate reads every lease under the advisory lock,
--   which on a table that churns fast took 0.3-0.5 s a time (its index full of dead entries),
--   and every regulated fetch waited meanwhile. The counters drift when a give-back is lost: a
--   worker dies or loses its connection between a finish and its give-back (its row of
--   gate_returns then stays: a give-back takes milliseconds, so a row older than a few seconds
--   was lost, and the sweep recounts), or the server crashes (the rows go with the unlogged
--   table). So the leader asks for a recount after it rescued jobs and otherwise now and then;
--   every sweep still opens the gates that have room and parked jobs.
-- gates_sweep() stays the sweep with its recount, for workers of the builds before.
ALTER TABLE spindle.gate_returns ADD COLUMN at timestamptz NOT NULL DEFAULT clock_timestamp();

CREATE FUNCTION spindle.gates_sweep(recount boolean) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
  g text;
  opened bigint := 0;
BEGIN
  PERFORM pg_advisory_xact_lock(7361626470);
  IF recount OR EXISTS (SELECT 1 FROM spindle.gate_returns
                       WHERE at < clock_timestamp() - interval '5 seconds') THEN
    WITH returned AS (
      DELETE FROM spindle.gate_returns
    ), live AS (
      SELECT x.gate, count(*)::integer AS held
      FROM spindle.jobs j, jsonb_array_elements_text(j.gates) AS x(gate)
      WHERE j.lease_expires_at IS NOT NULL AND j.gates IS NOT NULL
      GROUP BY x.gate
    ), upserted AS (
      INSERT INTO spindle.gates AS h (gate, held) SELECT gate, held FROM live
      ON CONFLICT (gate) DO UPDATE SET held = excluded.held WHERE h.held <> excluded.held
    )
    UPDATE spindle.gates h SET held = 0
    WHERE h.held > 0 AND NOT EXISTS (SELECT 1 FROM live WHERE live.gate = h.gate);
  END IF;
  DELETE FROM spindle.gates h
  WHERE h.held = 0 AND (h.idle_at IS NULL OR h.idle_at <= clock_timestamp())
    AND NOT EXISTS (SELECT 1 FROM spindle.jobs w WHERE w.gate_wait = h.gate);
  g := (SELECT min(gate_wait) FROM spindle.jobs WHERE gate_wait IS NOT NULL);
  WHILE g IS NOT NULL LOOP
    opened := opened + spindle.gate_open(g);
    g := (SELECT min(gate_wait) FROM spindle.jobs WHERE gate_wait > g);
  END LOOP;
  RETURN opened;
END
$$ SET enable_seqscan = off;

CREATE OR REPLACE FUNCTION spindle.gates_sweep() RETURNS bigint LANGUAGE sql AS $$
  SELECT spindle.gates_sweep(true)
$$;
