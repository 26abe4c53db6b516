-- Cluster-wide concurrency limits (docs/regulation.md).
--
-- A limit caps how many of the jobs it applies to run at once across every worker: per queue,
-- per kind, or per value of a key in the args (a gate per value, `name/value`). Workers record
-- the limits of their configuration (the last to start wins). A fetch of a queue that limits may
-- apply to (job_fetch_candidates.sql and the store's admission) decides before leasing: a job
-- starts only when each of its gates has room, and then counts in each (`gates.held`, and the
-- job's `gates`) until its lease ends; a job that cannot start is parked (`gate_wait`), out of the
-- fetch's indexes, so that however many wait no fetch reads past them. A lease that ends gives
-- its places back and lets go of as many parked jobs as its gates now have room for
-- (jobs_gates_released). The leader's sweep recounts `held` from the live leases. Jobs of queues
-- without limits never enter these paths.
--
-- Every regulated fetch and every release takes one advisory lock (7361626470) for the rest of
-- its transaction, before it reads `held`, so that no two of them decide on the same counts:
-- a fetch never sees a gate fuller than it is without the release that empties it seeing the
-- jobs the fetch parked. One lock, so no order between locks can deadlock.
CREATE TABLE spindle.limits (
  name text PRIMARY KEY CHECK (name ~ '^[A-Za-z0-9_.:-]{1,100}$'),
  capacity integer NOT NULL CHECK (capacity BETWEEN 1 AND 1000000),
  queue text,
  kind text,
  key text,  -- a dot-separated path into args: a gate per value
  registered_at timestamptz NOT NULL DEFAULT now()
);

-- How many leased jobs hold each gate now: a counter, changed under the advisory lock, so that a
-- decision reads one row per gate (counting rows of a churning table would read every dead one).
CREATE TABLE spindle.gates (
  gate text PRIMARY KEY,
  held integer NOT NULL CHECK (held >= 0)
);

ALTER TABLE spindle.jobs ADD COLUMN gates jsonb;     -- the gates its attempt took (NULL: none)
ALTER TABLE spindle.jobs ADD COLUMN gate_wait text;  -- parked: waits for room at this gate

DROP INDEX spindle.jobs_fetch_idx;
CREATE INDEX jobs_fetch_idx ON spindle.jobs (queue, priority, run_at, id)
  WHERE state IN ('scheduled', 'available', 'retryable') AND NOT serial_held
    AND gate_wait IS NULL;
DROP INDEX spindle.jobs_deadline_idx;
CREATE INDEX jobs_deadline_idx ON spindle.jobs (queue, priority, deadline, run_at, id)
  WHERE deadline IS NOT NULL AND state IN ('scheduled', 'available', 'retryable')
    AND NOT serial_held AND gate_wait IS NULL;
-- Each gate's line of parked jobs, in fetch order.
CREATE INDEX jobs_parked_idx ON spindle.jobs (gate_wait, priority, run_at, id)
  WHERE gate_wait IS NOT NULL;

-- Lets go of as many of gate g's parked jobs, in line, as it has room for (all of them when no
-- limit is recorded for it any more), and wakes their queues' workers. The fetch decides again
-- whether they start. Under the advisory lock.
CREATE FUNCTION spindle.gate_open(g text) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
  room bigint;
  opened bigint;
BEGIN
  -- Most releases find nobody waiting (a limit that is not the bottleneck): they count nothing.
  IF NOT EXISTS (SELECT 1 FROM spindle.jobs w WHERE w.gate_wait = g) THEN
    RETURN 0;
  END IF;
  SELECT l.capacity - coalesce((SELECT h.held FROM spindle.gates h WHERE h.gate = g), 0) INTO room
  FROM spindle.limits l WHERE l.name = split_part(g, '/', 1);
  IF room <= 0 THEN
    RETURN 0;
  END IF;
  WITH opened AS (
    UPDATE spindle.jobs j SET gate_wait = NULL
    WHERE j.id IN (SELECT w.id FROM spindle.jobs w WHERE w.gate_wait = g
                   ORDER BY w.priority, w.run_at, w.id LIMIT room)
    RETURNING j.queue
  ), told AS (
    SELECT pg_notify('spindle_jobs', q.queue) FROM (SELECT DISTINCT queue FROM opened) q
  )
  SELECT count(*) INTO opened FROM opened WHERE (SELECT count(*) FROM told) >= 0;
  RETURN opened;
END
$$ SET enable_seqscan = off;

-- A lease ended (an outcome, a rescue, an eviction, a taken job's process gone): its places in
-- its gates are given back (and the job's `gates` cleared, so that nothing gives them back twice),
-- and its gates let go of the jobs they now have room for. A BEFORE trigger, to clear `gates` in
-- the same row change.
CREATE FUNCTION spindle.gates_released() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  g text;
BEGIN
  PERFORM pg_advisory_xact_lock(7361626470);
  UPDATE spindle.gates h SET held = greatest(h.held - 1, 0)
  WHERE h.gate IN (SELECT jsonb_array_elements_text(OLD.gates));
  NEW.gates := NULL;
  FOR g IN SELECT jsonb_array_elements_text(OLD.gates) LOOP
    PERFORM spindle.gate_open(g);
  END LOOP;
  RETURN NEW;
END
$$;
CREATE TRIGGER jobs_gates_released BEFORE UPDATE OF lease_expires_at ON spindle.jobs FOR EACH ROW
  WHEN (OLD.gates IS NOT NULL AND OLD.lease_expires_at IS NOT NULL
        AND NEW.lease_expires_at IS NULL)
  EXECUTE FUNCTION spindle.gates_released();

-- A parked job whose state changes (cancelled, stopped, retried, expired) waits no more: if it
-- may run again, the fetch decides anew.
CREATE FUNCTION spindle.gate_left() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.gate_wait := NULL;
  RETURN NEW;
END
$$;
CREATE TRIGGER jobs_gate_left BEFORE UPDATE OF state ON spindle.jobs FOR EACH ROW
  WHEN (OLD.gate_wait IS NOT NULL AND NEW.state IS DISTINCT FROM OLD.state)
  EXECUTE FUNCTION spindle.gate_left();

-- The leader's sweep (Store::LimitSweep): recounts every gate's `held` from the leases that hold
-- it (the counter's safety net: a job leased again after its lease expired, never ended, gave
-- nothing back), forgets gates nobody holds, and opens every gate with parked jobs as far as it
-- has room, the safety net for a parked job that no release let go (a limit grew or went; the
-- jobs let go before it were cancelled). Reads the leased jobs and one index entry per gate with
-- parked jobs.
CREATE FUNCTION spindle.gates_sweep() RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
  g text;
  opened bigint := 0;
BEGIN
  PERFORM pg_advisory_xact_lock(7361626470);
  WITH live AS (
    SELECT x.gate, count(*)::integer AS held
    FROM spindle.jobs j, jsonb_array_elements_text(j.gates) AS x(gate)
    WHERE j.lease_expires_at IS NOT NULL AND j.gates IS NOT NULL
    GROUP BY x.gate
  ), upserted AS (
    INSERT INTO spindle.gates AS h (gate, held) SELECT gate, held FROM live
    ON CONFLICT (gate) DO UPDATE SET held = excluded.held WHERE h.held <> excluded.held
  )
  DELETE FROM spindle.gates h WHERE NOT EXISTS (SELECT 1 FROM live WHERE live.gate = h.gate);
  g := (SELECT min(gate_wait) FROM spindle.jobs WHERE gate_wait IS NOT NULL);
  WHILE g IS NOT NULL LOOP
    opened := opened + spindle.gate_open(g);
    g := (SELECT min(gate_wait) FROM spindle.jobs WHERE gate_wait > g);
  END LOOP;
  RETURN opened;
END
$$ SET enable_seqscan = off;
