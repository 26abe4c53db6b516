-- Job history (docs/jobs.md): each job's timeline of state and step transitions, the last 50,
-- an entry that repeats the one before it only moving that one's time. As on PostgreSQL, a
-- fetch (-> running) and a completion (running -> completed) write nothing: the timeline reads
-- them from the job row, and they are recorded here only when the row is about to forget them.
-- Times are microseconds since the epoch, from SQLite's clock.
CREATE TABLE spindle_job_events (
  seq    INTEGER PRIMARY KEY,
  job_id TEXT NOT NULL,
  at     INTEGER NOT NULL,
  type   TEXT NOT NULL,
  detail TEXT NOT NULL
);
CREATE INDEX spindle_job_events_job_idx ON spindle_job_events (job_id, seq);

CREATE TRIGGER spindle_jobs_history AFTER UPDATE OF state, step ON spindle_jobs
WHEN (OLD.state IS NOT NEW.state OR OLD.step IS NOT NEW.step)
  AND NOT (NEW.state = 'running' AND OLD.state <> 'running')
  AND NOT (OLD.state = 'running' AND NEW.state = 'completed')
BEGIN
  -- The row is about to forget an earlier attempt's start, or its completion.
  INSERT INTO spindle_job_events (job_id, at, type, detail)
  SELECT NEW.id, OLD.started_at, 'running',
         'attempt ' || OLD.attempt ||
         CASE WHEN OLD.state = 'running' THEN coalesce(' on ' || OLD.lease_owner, '') ELSE '' END
  WHERE (OLD.state = 'running' AND NEW.state NOT IN ('scheduled', 'available', 'running'))
     OR OLD.state = 'completed';
  INSERT INTO spindle_job_events (job_id, at, type, detail)
  SELECT NEW.id, OLD.finished_at, 'completed', '' WHERE OLD.state = 'completed';
  -- The transition itself.
  INSERT INTO spindle_job_events (job_id, at, type, detail)
  -- Never before the start of the attempt the row holds, which the timeline shows from the row:
  -- SQLite's clock has milliseconds, the row's times microseconds.
  VALUES (NEW.id, max(CAST((julianday('now') - 2440587.5) * 86400000000 AS INTEGER),
                      coalesce(NEW.started_at + 1, 0)),
    CASE WHEN NEW.state = OLD.state THEN 'step' ELSE NEW.state END,
    CASE
      WHEN NEW.state = OLD.state THEN NEW.step  -- a running job saved its next step
      -- A nap or a hand-back: one entry for the attempt, so that a job napping in a loop keeps
      -- one entry whose time moves.
      WHEN OLD.state = 'running' AND NEW.state = 'scheduled'
        THEN 'nap' || coalesce(' in step ' || NEW.step, '')
      WHEN OLD.state = 'running' AND NEW.state = 'available'
        THEN 'released' || coalesce(' in step ' || NEW.step, '')
      WHEN NEW.state IN ('retryable', 'failed')
           AND json_array_length(NEW.errors) > json_array_length(OLD.errors)
        THEN json_extract(NEW.errors, '$[#-1].error')
      WHEN NEW.state = 'waiting' AND OLD.state = 'running'
        THEN NEW.children_pending || ' children' || coalesce(', then step ' || NEW.step, '')
      WHEN OLD.state = 'stopped' THEN 'resumed'
      WHEN OLD.state = 'waiting' AND NEW.state = 'available' AND NEW.children_pending = 0
        THEN 'children finished'
      WHEN NEW.state = 'available' AND OLD.state IN ('scheduled', 'retryable', 'waiting')
        THEN 'woken'
      WHEN OLD.state IN ('completed', 'failed', 'cancelled', 'expired') THEN 'retried'
      ELSE '' END);
  -- A repeat of the entry before it: that one goes, so only the time moves.
  DELETE FROM spindle_job_events
  WHERE seq = (SELECT seq FROM spindle_job_events WHERE job_id = NEW.id
               ORDER BY seq DESC LIMIT 1 OFFSET 1)
    AND EXISTS (SELECT 1 FROM spindle_job_events n
                WHERE n.seq = (SELECT max(seq) FROM spindle_job_events WHERE job_id = NEW.id)
                  AND n.type = spindle_job_events.type AND n.detail = spindle_job_events.detail);
  -- The last 50.
  DELETE FROM spindle_job_events
  WHERE job_id = NEW.id
    AND seq <= (SELECT seq FROM spindle_job_events WHERE job_id = NEW.id
                ORDER BY seq DESC LIMIT 1 OFFSET 50);
END;
