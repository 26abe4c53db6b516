-- Serial keys (docs/jobs.md, "Serial keys"), as PostgreSQL's 013_serial.sql: jobs that share a
-- key run one at a time, in enqueue order. Of a key's unfinished jobs one is its head; the others
-- are held (`serial_held`), out of the fetch index, and released in line (`serial_seq`) by
-- triggers that fire only for rows with a key. SQLite has one writer at a time, so no lock is
-- needed: `spindle_serial_keys` gives out the places in each line, and has a key's row while the
-- key has an unfinished job, so a job that gets place 1 starts a new line and is its head.
ALTER TABLE spindle_jobs ADD COLUMN serial_key TEXT
  CHECK (serial_key IS NULL OR length(serial_key) BETWEEN 1 AND 255);
ALTER TABLE spindle_jobs ADD COLUMN serial_held INTEGER NOT NULL DEFAULT 0;
ALTER TABLE spindle_jobs ADD COLUMN serial_seq INTEGER;

ALTER TABLE spindle_kinds ADD COLUMN serial TEXT CHECK (serial IN ('block', 'continue'));

CREATE TABLE spindle_serial_keys (
  key TEXT PRIMARY KEY,
  seq INTEGER NOT NULL  -- the last place given out in the key's line
);

DROP INDEX spindle_jobs_fetch_idx;
CREATE INDEX spindle_jobs_fetch_idx ON spindle_jobs (queue, priority, run_at, id)
  WHERE state IN ('scheduled', 'available', 'retryable') AND NOT serial_held;
-- And the earliest-deadline-first fetch's path for jobs with a deadline (011), likewise.
DROP INDEX spindle_jobs_deadline_idx;
CREATE INDEX spindle_jobs_deadline_idx ON spindle_jobs (queue, priority, deadline, run_at, id)
  WHERE deadline IS NOT NULL AND state IN ('scheduled', 'available', 'retryable')
    AND NOT serial_held;
CREATE INDEX spindle_jobs_serial_idx ON spindle_jobs (serial_key, serial_seq)
  WHERE serial_key IS NOT NULL AND state NOT IN ('completed', 'failed', 'cancelled', 'expired');

-- Enqueued: the job joins the end of its key's line, held when the key has another unfinished
-- job. A child may not share a key with its parent or any ancestor (they wait for it).
CREATE TRIGGER spindle_jobs_serial_enqueued AFTER INSERT ON spindle_jobs
WHEN NEW.serial_key IS NOT NULL
BEGIN
  SELECT RAISE(ABORT, 'a child job cannot have the serial key of its parent or an ancestor: it would wait for them while they wait for it')
  WHERE NEW.parent_id IS NOT NULL AND EXISTS (
    WITH RECURSIVE up(id, parent_id, serial_key) AS (
      SELECT id, parent_id, serial_key FROM spindle_jobs WHERE id = NEW.parent_id
      UNION ALL
      SELECT j.id, j.parent_id, j.serial_key FROM spindle_jobs j JOIN up ON j.id = up.parent_id)
    SELECT 1 FROM up WHERE up.serial_key = NEW.serial_key);
  INSERT INTO spindle_serial_keys (key, seq) VALUES (NEW.serial_key, 1)
  ON CONFLICT (key) DO UPDATE SET seq = seq + 1;
  UPDATE spindle_jobs
  SET serial_seq = (SELECT seq FROM spindle_serial_keys WHERE key = NEW.serial_key),
      serial_held = (SELECT seq > 1 FROM spindle_serial_keys WHERE key = NEW.serial_key)
  WHERE id = NEW.id;
END;

-- Retried out of a final state: the same, at the end of the line.
CREATE TRIGGER spindle_jobs_serial_reopened AFTER UPDATE OF state ON spindle_jobs
WHEN NEW.serial_key IS NOT NULL
  AND OLD.state IN ('completed', 'failed', 'cancelled', 'expired')
  AND NEW.state NOT IN ('completed', 'failed', 'cancelled', 'expired')
BEGIN
  INSERT INTO spindle_serial_keys (key, seq) VALUES (NEW.serial_key, 1)
  ON CONFLICT (key) DO UPDATE SET seq = seq + 1;
  UPDATE spindle_jobs
  SET serial_seq = (SELECT seq FROM spindle_serial_keys WHERE key = NEW.serial_key),
      serial_held = (SELECT seq > 1 FROM spindle_serial_keys WHERE key = NEW.serial_key)
  WHERE id = NEW.id;
END;

-- A held job that ended (cancelled) waits for nothing.
CREATE TRIGGER spindle_jobs_serial_dropped AFTER UPDATE OF state ON spindle_jobs
WHEN NEW.serial_key IS NOT NULL AND OLD.serial_held
  AND OLD.state NOT IN ('completed', 'failed', 'cancelled', 'expired')
  AND NEW.state IN ('completed', 'failed', 'cancelled', 'expired')
BEGIN
  UPDATE spindle_jobs SET serial_held = 0 WHERE id = NEW.id;
END;

-- The head of a key finished: the next held job in line is released (and its queue woken). A
-- row trigger fires at once here, so in a bulk cancel of a whole line each cancelled head
-- releases the next, which the same statement then cancels in turn.
CREATE TRIGGER spindle_jobs_serial_advanced AFTER UPDATE OF state ON spindle_jobs
WHEN NEW.serial_key IS NOT NULL AND NOT OLD.serial_held
  AND OLD.state NOT IN ('completed', 'failed', 'cancelled', 'expired')
  AND NEW.state IN ('completed', 'failed', 'cancelled', 'expired')
BEGIN
  INSERT INTO spindle_notices (queue)
  SELECT queue FROM spindle_jobs
  WHERE serial_key = NEW.serial_key AND serial_held
    AND state NOT IN ('completed', 'failed', 'cancelled', 'expired')
  ORDER BY serial_seq LIMIT 1;
  UPDATE spindle_jobs SET serial_held = 0
  WHERE id = (SELECT id FROM spindle_jobs
              WHERE serial_key = NEW.serial_key AND serial_held
                AND state NOT IN ('completed', 'failed', 'cancelled', 'expired')
              ORDER BY serial_seq LIMIT 1);
  DELETE FROM spindle_serial_keys
  WHERE key = NEW.serial_key AND NOT EXISTS (
    SELECT 1 FROM spindle_jobs
    WHERE serial_key = NEW.serial_key AND state NOT IN ('completed', 'failed', 'cancelled', 'expired'));
END;

-- Kind policy 'continue': a head whose attempt failed (not a rescue: its worker died, the job
-- did not fail) goes to the end of the line, and the next held job is released.
CREATE TRIGGER spindle_jobs_serial_continued AFTER UPDATE OF state ON spindle_jobs
WHEN NEW.serial_key IS NOT NULL AND NOT OLD.serial_held
  AND OLD.state = 'running' AND NEW.state = 'retryable'
  AND (SELECT serial FROM spindle_kinds WHERE kind = NEW.kind) = 'continue'
  AND json_extract(NEW.errors, '$[#-1].error') NOT LIKE 'lease expired:%'  -- job_rescue.sql's
  AND EXISTS (SELECT 1 FROM spindle_jobs
              WHERE serial_key = NEW.serial_key AND serial_held
                AND state NOT IN ('completed', 'failed', 'cancelled', 'expired'))
BEGIN
  INSERT INTO spindle_notices (queue)
  SELECT queue FROM spindle_jobs
  WHERE serial_key = NEW.serial_key AND serial_held
    AND state NOT IN ('completed', 'failed', 'cancelled', 'expired')
  ORDER BY serial_seq LIMIT 1;
  UPDATE spindle_jobs SET serial_held = 0
  WHERE id = (SELECT id FROM spindle_jobs
              WHERE serial_key = NEW.serial_key AND serial_held
                AND state NOT IN ('completed', 'failed', 'cancelled', 'expired')
              ORDER BY serial_seq LIMIT 1);
  UPDATE spindle_serial_keys SET seq = seq + 1 WHERE key = NEW.serial_key;
  UPDATE spindle_jobs
  SET serial_held = 1,
      serial_seq = (SELECT seq FROM spindle_serial_keys WHERE key = NEW.serial_key)
  WHERE id = NEW.id;
END;
