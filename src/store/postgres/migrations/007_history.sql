-- Job history (docs/jobs.md): each job's timeline of state and step transitions, the last 50,
-- an entry that repeats the one before it only moving that one's time.
--
-- The hot path writes nothing here: a fetch (-> running) and a completion (running ->
-- completed) are read from the job row itself (started_at, finished_at) when the timeline is
-- shown, and recorded here only when the row is about to forget them (the job runs again).
CREATE TABLE spindle.job_events (
  job_id uuid NOT NULL REFERENCES spindle.jobs (id) ON DELETE CASCADE,
  seq    bigint GENERATED ALWAYS AS IDENTITY,
  at     timestamptz NOT NULL,
  type   text NOT NULL,
  detail text NOT NULL,
  PRIMARY KEY (job_id, seq)
);

CREATE FUNCTION spindle.job_event(job uuid, at timestamptz, type text, detail text)
  RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  -- A repeat of the newest entry only moves its time.
  UPDATE spindle.job_events e SET at = job_event.at
  WHERE e.job_id = job
    AND e.seq = (SELECT max(seq) FROM spindle.job_events WHERE job_id = job)
    AND e.type = job_event.type AND e.detail = job_event.detail;
  IF FOUND THEN
    RETURN;
  END IF;
  INSERT INTO spindle.job_events (job_id, at, type, detail) VALUES (job, at, type, detail);
  DELETE FROM spindle.job_events
  WHERE job_id = job
    AND seq <= (SELECT seq FROM spindle.job_events WHERE job_id = job
                ORDER BY seq DESC OFFSET 50 LIMIT 1);
END
$$;

CREATE FUNCTION spindle.job_history() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  attempt_run text := 'attempt ' || OLD.attempt || coalesce(' on ' || OLD.lease_owner, '');
  in_step text := coalesce(' in step ' || NEW.step, '');
  -- Never before the start of the attempt the row holds, which the timeline shows from the row
  -- (the store may write row times with a clock of its own).
  entry_at timestamptz := greatest(now(), NEW.started_at + interval '1 microsecond');
BEGIN
  IF NEW.state = OLD.state THEN  -- a running job saved its next step
    PERFORM spindle.job_event(NEW.id, entry_at, 'step', NEW.step);
    RETURN NULL;
  END IF;
  -- The row is about to forget an earlier attempt's start, or its completion.
  IF OLD.state = 'running' AND NEW.state NOT IN ('scheduled', 'available') THEN
    PERFORM spindle.job_event(NEW.id, OLD.started_at, 'running', attempt_run);
  ELSIF OLD.state = 'completed' THEN
    PERFORM spindle.job_event(NEW.id, OLD.started_at, 'running', 'attempt ' || OLD.attempt);
    PERFORM spindle.job_event(NEW.id, OLD.finished_at, 'completed', '');
  END IF;
  PERFORM spindle.job_event(NEW.id, entry_at, NEW.state::text, CASE
    -- A nap or a hand-back: one entry for the attempt, so that a job napping in a loop keeps
    -- one entry whose time moves.
    WHEN OLD.state = 'running' AND NEW.state = 'scheduled' THEN 'nap' || in_step
    WHEN OLD.state = 'running' AND NEW.state = 'available' THEN 'released' || in_step
    WHEN NEW.state IN ('retryable', 'failed')
         AND jsonb_array_length(NEW.errors) > jsonb_array_length(OLD.errors)
      THEN (NEW.errors -> -1 ->> 'error')
    WHEN NEW.state = 'waiting' AND OLD.state = 'running'
      THEN NEW.children_pending || ' children' || coalesce(', then step ' || NEW.step, '')
    WHEN OLD.state = 'stopped' THEN 'resumed'
    WHEN OLD.state = 'waiting' AND NEW.state = 'available' AND NEW.children_pending = 0
      THEN 'children finished'
    WHEN NEW.state = 'available' AND OLD.state IN ('scheduled', 'retryable', 'waiting')
      THEN 'woken'
    WHEN OLD.state IN ('completed', 'failed', 'cancelled', 'expired') THEN 'retried'
    ELSE '' END);
  RETURN NULL;
END
$$;

-- Not for a fetch or a completion: those are read from the row.
CREATE TRIGGER jobs_history AFTER UPDATE OF state, step ON spindle.jobs FOR EACH ROW
  WHEN ((OLD.state IS DISTINCT FROM NEW.state OR OLD.step IS DISTINCT FROM NEW.step)
        AND NOT (NEW.state = 'running' AND OLD.state <> 'running')
        AND NOT (OLD.state = 'running' AND NEW.state = 'completed'))
  EXECUTE FUNCTION spindle.job_history();
