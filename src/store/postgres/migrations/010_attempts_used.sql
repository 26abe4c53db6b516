-- Attempts as people count them (docs/jobs.md, "Attempts").
--
-- `attempts_used` counts the attempts that count toward `max_attempts`: a fetch adds one, and an
-- attempt that does not count (a nap, a hand-back, a person's stop, a wait for children, a
-- cluster stop) gives it back. `max_attempts` stays what the job was enqueued with (only a
-- person's retry of a job that used them all raises it, by one). `attempt` still counts every
-- run and only grows: it stays the fencing token.
ALTER TABLE spindle.jobs ADD COLUMN attempts_used integer NOT NULL DEFAULT 0;
-- Until now an attempt that did not count raised max_attempts instead: every run was used, and
-- the decisions (`attempts_used >= max_attempts`) stay what they were for existing jobs.
UPDATE spindle.jobs SET attempts_used = attempt WHERE attempt > 0;

-- History (007_history.sql): every attempt is told once, also one that ended in a nap or a
-- hand-back, which the row forgets at the next fetch.
CREATE OR REPLACE FUNCTION spindle.job_history() RETURNS trigger LANGUAGE plpgsql AS $$
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
  IF OLD.state = 'running' THEN
    PERFORM spindle.job_event(NEW.id, OLD.started_at, 'running', attempt_run);
  ELSIF OLD.state = 'completed' THEN
    PERFORM spindle.job_event(NEW.id, OLD.started_at, 'running', 'attempt ' || OLD.attempt);
    PERFORM spindle.job_event(NEW.id, OLD.finished_at, 'completed', '');
  END IF;
  PERFORM spindle.job_event(NEW.id, entry_at, NEW.state::text, CASE
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
