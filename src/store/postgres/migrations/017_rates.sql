-- Rate limits (docs/regulation.md, "Rate limits"): a limit with `per_ms` lets at most `capacity`
-- of its jobs start within any span of that length. Its gates hold nothing while jobs run: each
-- gate's row keeps the log of the starts in its window (`starts`, regulation::RateLog, written by
-- the fetch that lets them start, under the advisory lock). A job that finds the window full is
-- parked at the gate as at any other, and the gate records when the oldest start leaves the
-- window (`opens_at`): the next regulated fetch after that time lets go of as many parked jobs as
-- may start then, and the worker that parked them fetches again at that time.
ALTER TABLE spindle.limits ADD COLUMN per_ms bigint CHECK (per_ms BETWEEN 1 AND 2592000000);
ALTER TABLE spindle.gates
  ADD COLUMN starts text,           -- a rate gate's starts in its window: [[ms, n], ...]
  ADD COLUMN opens_at timestamptz,  -- a rate gate with parked jobs: when they may go
  ADD COLUMN idle_at timestamptz;   -- a rate gate: its last start leaves the window then
CREATE INDEX gates_opens_idx ON spindle.gates (opens_at) WHERE opens_at IS NOT NULL;

-- A time and ms since the epoch, exactly both ways (the logs count in whole ms).
CREATE FUNCTION spindle.ms_time(ms bigint) RETURNS timestamptz LANGUAGE sql IMMUTABLE AS
  $$ SELECT timestamptz 'epoch' + ms * interval '1 millisecond' $$;
CREATE FUNCTION spindle.time_ms(t timestamptz) RETURNS bigint LANGUAGE sql IMMUTABLE AS
  $$ SELECT floor(extract(epoch FROM t) * 1000)::bigint $$;

-- Lets go of up to `room` of gate g's parked jobs, in line (NULL: all of them), and wakes their
-- queues' workers. Under the advisory lock.
CREATE FUNCTION spindle.gate_let_go(g text, room bigint) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
  opened bigint;
BEGIN
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

-- As in 015, for a concurrency limit; a rate limit's gate has no room that a release or the
-- sweep could see (its parked jobs go when their time comes, OpenRateGates), and a gate whose
-- limit is gone lets all its jobs go.
CREATE OR REPLACE FUNCTION spindle.gate_open(g text) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
  room bigint;
BEGIN
  -- Most releases find nobody waiting (a limit that is not the bottleneck): they count nothing.
  IF NOT EXISTS (SELECT 1 FROM spindle.jobs w WHERE w.gate_wait = g) THEN
    RETURN 0;
  END IF;
  SELECT CASE WHEN l.per_ms IS NULL
              THEN l.capacity - coalesce((SELECT h.held FROM spindle.gates h WHERE h.gate = g), 0)
              ELSE 0 END INTO room
  FROM spindle.limits l WHERE l.name = split_part(g, '/', 1);
  RETURN spindle.gate_let_go(g, room);
END
$$ SET enable_seqscan = off;

-- The sweep, as in 015, keeping the rows of rate gates whose windows still hold starts or that
-- hold parked jobs back (a row whose limit went, or that no job waits at, goes once idle).
CREATE OR REPLACE FUNCTION spindle.gates_sweep() RETURNS bigint LANGUAGE plpgsql AS $$
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
  UPDATE spindle.gates h SET held = 0
  WHERE h.held > 0 AND NOT EXISTS (SELECT 1 FROM live WHERE live.gate = h.gate);
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

-- Lets go of up to `room` of rate gate g's parked jobs (regulation::RateSteps::open), and records
-- when the gate opens next: at `next_ms` if jobs stay parked there, else never. Returns whether
-- jobs stay, and how many it let go. Under the advisory lock.
CREATE FUNCTION spindle.gate_rate_open(g text, room bigint, next_ms bigint, OUT opened bigint,
                                       OUT more boolean) LANGUAGE plpgsql AS $$
BEGIN
  opened := spindle.gate_let_go(g, room);
  more := EXISTS (SELECT 1 FROM spindle.jobs w WHERE w.gate_wait = g);
  INSERT INTO spindle.gates AS h (gate, held, opens_at)
  VALUES (g, 0, CASE WHEN more THEN spindle.ms_time(next_ms) END)
  ON CONFLICT (gate) DO UPDATE SET opens_at = excluded.opens_at;
END
$$ SET enable_seqscan = off;
