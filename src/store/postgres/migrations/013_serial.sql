-- Serial keys (docs/jobs.md, "Serial keys"): jobs that share a key run one at a time, in enqueue
-- order.
--
-- Of a key's unfinished jobs exactly one is its head; the others are held (`serial_held`) and
-- are left out of the fetch index, so that the fetch never reads past them however many wait.
-- `serial_seq` is a job's place in its key's line. Triggers, which fire only for rows with a
-- key (WHEN), keep the line whichever statement changes a job: an enqueue (or a person's retry
-- of a finished job) joins the end of the line, held when the key has an unfinished job; a head
-- that finishes releases the next held job in line; under a kind's `serial = 'continue'` a head
-- whose attempt failed goes to the end of the line and releases the next.
--
-- Every change of a key's line locks the key's row in `serial_keys` first (the enqueue's upsert,
-- the head's finish), so concurrent enqueuers and finishers of one key take turns; the row holds
-- the last place given out and is deleted when the key has no unfinished job left, so a job
-- that gets place 1 starts a new line and is its head: the enqueue reads no jobs.
--
-- The functions' statements all have an index to use, and must: a plan cached while the table
-- was nearly empty would otherwise scan it whole for every keyed job once it has grown.
ALTER TABLE spindle.jobs ADD COLUMN serial_key text CHECK (length(serial_key) BETWEEN 1 AND 255);
ALTER TABLE spindle.jobs ADD COLUMN serial_held boolean NOT NULL DEFAULT false;
ALTER TABLE spindle.jobs ADD COLUMN serial_seq bigint;

-- A kind's policy when the head of a key fails an attempt: 'block' (NULL: the default) keeps it
-- the head, 'continue' lets the next one go.
ALTER TABLE spindle.kinds ADD COLUMN serial text CHECK (serial IN ('block', 'continue'));

CREATE TABLE spindle.serial_keys (
  key text PRIMARY KEY,
  seq bigint NOT NULL  -- the last place given out in the key's line
);

-- The fetch path (001), without held jobs: ordinary jobs' fetch reads it as before.
DROP INDEX spindle.jobs_fetch_idx;
CREATE INDEX jobs_fetch_idx ON spindle.jobs (queue, priority, run_at, id)
  WHERE state IN ('scheduled', 'available', 'retryable') AND NOT serial_held;
-- The earliest-deadline-first fetch's path for jobs with a deadline (011), without held jobs
-- too: job_fetch_deadline.sql's arms say NOT serial_held, as job_fetch.sql does.
DROP INDEX spindle.jobs_deadline_idx;
CREATE INDEX jobs_deadline_idx ON spindle.jobs (queue, priority, deadline, run_at, id)
  WHERE deadline IS NOT NULL AND state IN ('scheduled', 'available', 'retryable')
    AND NOT serial_held;
-- A key's unfinished jobs in line: whether it has any, and which is next.
CREATE INDEX jobs_serial_idx ON spindle.jobs (serial_key, serial_seq)
  WHERE serial_key IS NOT NULL AND state NOT IN ('completed', 'failed', 'cancelled', 'expired');

-- Enqueued, or retried out of a final state: the job joins the end of its key's line, held when
-- the key has another unfinished job. A child may not share a key with its parent or any
-- ancestor: they wait for it, and it would wait for them.
CREATE FUNCTION spindle.serial_joined() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'UPDATE' AND NEW.state IN ('completed', 'failed', 'cancelled', 'expired') THEN
    NEW.serial_held := false;  -- a held job that ended (cancelled) waits for nothing
    RETURN NEW;
  END IF;
  IF NEW.parent_id IS NOT NULL AND EXISTS (
      WITH RECURSIVE up AS (
        SELECT j.id, j.parent_id, j.serial_key FROM spindle.jobs j WHERE j.id = NEW.parent_id
        UNION ALL
        SELECT j.id, j.parent_id, j.serial_key FROM spindle.jobs j JOIN up ON j.id = up.parent_id)
      SELECT 1 FROM up WHERE up.serial_key = NEW.serial_key) THEN
    RAISE EXCEPTION USING ERRCODE = '22023',
      MESSAGE = format('a child job cannot have the serial key %L of its parent or an ancestor: '
                       'it would wait for them while they wait for it', NEW.serial_key);
  END IF;
  -- The key's row exists while the key has an unfinished job (its head).
  INSERT INTO spindle.serial_keys AS k (key, seq) VALUES (NEW.serial_key, 1)
  ON CONFLICT (key) DO UPDATE SET seq = k.seq + 1
  RETURNING k.seq INTO NEW.serial_seq;
  NEW.serial_held := NEW.serial_seq > 1;
  IF TG_WHEN = 'AFTER' THEN  -- jobs_serial_inserted: the row is in; its place is written to it
    UPDATE spindle.jobs SET serial_seq = NEW.serial_seq, serial_held = NEW.serial_held
    WHERE id = NEW.id;
    RETURN NULL;
  END IF;
  RETURN NEW;
END
$$ SET enable_seqscan = off;

-- A BEFORE INSERT trigger fires also for a row that ON CONFLICT DO NOTHING then skips: a unique
-- job (014) that was not inserted would take a place in its key's line (and, as the first, leave
-- the key's row behind with nobody at its head, holding every later job of the key for good). So
-- an insert that may be skipped (job_insert_unique.sql, spindle.enqueue with a unique key) gives
-- a keyed job serial_seq 0, and for such a row the same function runs as an AFTER trigger, which
-- fires only for rows that were inserted, in their order. Every other insert takes its place
-- before the row is written, which costs less.
CREATE TRIGGER jobs_serial_enqueued BEFORE INSERT ON spindle.jobs FOR EACH ROW
  WHEN (NEW.serial_key IS NOT NULL AND NEW.serial_seq IS NULL)
  EXECUTE FUNCTION spindle.serial_joined();
CREATE TRIGGER jobs_serial_inserted AFTER INSERT ON spindle.jobs FOR EACH ROW
  WHEN (NEW.serial_key IS NOT NULL AND NEW.serial_seq = 0)
  EXECUTE FUNCTION spindle.serial_joined();
CREATE TRIGGER jobs_serial_reopened BEFORE UPDATE OF state ON spindle.jobs FOR EACH ROW
  WHEN (NEW.serial_key IS NOT NULL
        AND (NEW.state IN ('completed', 'failed', 'cancelled', 'expired'))
            <> (OLD.state IN ('completed', 'failed', 'cancelled', 'expired')))
  EXECUTE FUNCTION spindle.serial_joined();

-- The head of a key finished, or (kind policy 'continue') failed an attempt: the next held job
-- in line is released. An AFTER trigger, so that it sees every row its statement changed (a bulk
-- cancel of a whole line releases nothing it cancelled). A rescued head (its lease expired)
-- stays the head: the worker died, the job did not fail.
CREATE FUNCTION spindle.serial_advanced() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  next_id uuid;
  next_queue text;
  next_due boolean;
  last_place bigint;
BEGIN
  IF NEW.state = 'retryable' THEN
    IF (SELECT k.serial FROM spindle.kinds k WHERE k.kind = NEW.kind) IS DISTINCT FROM 'continue'
       OR NEW.errors -> -1 ->> 'error' LIKE 'lease expired:%' THEN  -- job_rescue.sql's error
      RETURN NULL;
    END IF;
  END IF;
  PERFORM 1 FROM spindle.serial_keys WHERE key = NEW.serial_key FOR UPDATE;
  SELECT j.id, j.queue, j.state IN ('available', 'scheduled', 'retryable') AND j.run_at <= now()
  INTO next_id, next_queue, next_due
  FROM spindle.jobs j
  WHERE j.serial_key = NEW.serial_key AND j.serial_held
    AND j.state NOT IN ('completed', 'failed', 'cancelled', 'expired')
  ORDER BY j.serial_seq
  LIMIT 1
  FOR UPDATE;
  IF next_id IS NULL THEN
    IF NEW.state <> 'retryable' THEN  -- the line is empty
      DELETE FROM spindle.serial_keys WHERE key = NEW.serial_key;
    END IF;
    RETURN NULL;
  END IF;
  IF NEW.state = 'retryable' THEN  -- to the end of the line
    UPDATE spindle.serial_keys SET seq = seq + 1 WHERE key = NEW.serial_key
    RETURNING seq INTO last_place;
    UPDATE spindle.jobs SET serial_held = true, serial_seq = last_place WHERE id = NEW.id;
  END IF;
  UPDATE spindle.jobs SET serial_held = false WHERE id = next_id;
  IF next_due THEN
    PERFORM pg_notify('spindle_jobs', next_queue);
  END IF;
  RETURN NULL;
END
$$ SET enable_seqscan = off;

CREATE TRIGGER jobs_serial_advanced AFTER UPDATE OF state ON spindle.jobs FOR EACH ROW
  WHEN (NEW.serial_key IS NOT NULL AND NOT OLD.serial_held
        AND OLD.state NOT IN ('completed', 'failed', 'cancelled', 'expired')
        AND (NEW.state IN ('completed', 'failed', 'cancelled', 'expired')
             OR (OLD.state = 'running' AND NEW.state = 'retryable')))
  EXECUTE FUNCTION spindle.serial_advanced();

-- spindle.enqueue takes the serial key from 014_unique_retention.sql on, which recreates it once
-- with the serial and the unique keys.
