-- Cluster-wide concurrency limits (docs/regulation.md).
--
-- A limit caps how many of the jobs it applies to run at once across every worker: per queue,
-- per kind, or per value of a key in the args (a gate per value, `name/value`). Workers record
-- the limits of their configuration (the last to start wins). A fetch of a queue that limits may
-- apply to (job_fetch_candidates.sql and the store's admission) decides before leasing: a job
-- starts only when each of its gates has room, and then holds a permit for each until its lease
-- ends; a job that cannot start is parked (`gate_wait`), out of the fetch's indexes, so that
-- however many wait no fetch reads past them. A lease that ends lets go of its permits and of as
-- many parked jobs as its gates now have room for (jobs_gates_released). Jobs of queues without
-- limits never enter these paths.
--
-- Every regulated fetch and every release takes one advisory lock (7361626470) for the rest of
-- its transaction, before it counts permits, so that no two of them decide on the same counts:
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

-- The gates each leased job holds: a gate's holders are its rows whose job's lease is live.
CREATE TABLE spindle.permits (
  job_id uuid NOT NULL,
  gate text NOT NULL,
  PRIMARY KEY (job_id, gate)
);
CREATE INDEX permits_gate_idx ON spindle.permits (gate);

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
  SELECT l.capacity - (SELECT count(*) FROM spindle.permits p WHERE p.gate = g) INTO room
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

-- A lease ended (an outcome, a rescue, an eviction, a taken job's process gone): its permits go,
-- and its gates let go of the jobs they now have room for.
CREATE FUNCTION spindle.gates_released() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  g text;
BEGIN
  PERFORM pg_advisory_xact_lock(7361626470);
  DELETE FROM spindle.permits WHERE job_id = NEW.id;
  FOR g IN SELECT jsonb_array_elements_text(OLD.gates) LOOP
    PERFORM spindle.gate_open(g);
  END LOOP;
  RETURN NULL;
END
$$;
CREATE TRIGGER jobs_gates_released AFTER UPDATE OF lease_expires_at ON spindle.jobs FOR EACH ROW
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

-- Every gate with parked jobs is opened as far as it has room (Store::LimitSweep): a parked job
-- that no release let go (a limit grew or went; the jobs let go before it were cancelled) waits
-- at most until the leader's next sweep. Reads one index entry per gate, not per parked job.
CREATE FUNCTION spindle.gates_sweep() RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
  g text;
  opened bigint := 0;
BEGIN
  PERFORM pg_advisory_xact_lock(7361626470);
  g := (SELECT min(gate_wait) FROM spindle.jobs WHERE gate_wait IS NOT NULL);
  WHILE g IS NOT NULL LOOP
    opened := opened + spindle.gate_open(g);
    g := (SELECT min(gate_wait) FROM spindle.jobs WHERE gate_wait > g);
  END LOOP;
  RETURN opened;
END
$$ SET enable_seqscan = off;
