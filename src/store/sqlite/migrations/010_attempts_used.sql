-- Attempts as people count them, and the history of every attempt, as PostgreSQL's
-- 010_attempts_used.sql; and a control counter, so that a stop or cancel reaches a worker in
-- another process within a fraction of a second.
ALTER TABLE spindle_jobs ADD COLUMN attempts_used INTEGER NOT NULL DEFAULT 0;
-- Until now an attempt that did not count raised max_attempts instead: every run was used, and
-- the decisions (`attempts_used >= max_attempts`) stay what they were for existing jobs.
UPDATE spindle_jobs SET attempts_used = attempt WHERE attempt > 0;

-- Grows by one whenever a running job is taken from its worker (a stop or cancel, the cluster
-- stopped). SQLite cannot notify other processes: their listeners read it every few hundred
-- milliseconds and, when it moved, have their workers ask which of their jobs to give up.
ALTER TABLE spindle_cluster ADD COLUMN control_version INTEGER NOT NULL DEFAULT 0;
DROP TRIGGER spindle_jobs_taken;
CREATE TRIGGER spindle_jobs_taken AFTER UPDATE OF state ON spindle_jobs
WHEN OLD.state = 'running' AND NEW.state IN ('stopped', 'cancelled')
BEGIN
  INSERT INTO spindle_notices (worker) VALUES (OLD.lease_owner);
  UPDATE spindle_cluster SET control_version = control_version + 1;
END;
CREATE TRIGGER spindle_cluster_stopped AFTER UPDATE OF stopped_at ON spindle_cluster
WHEN OLD.stopped_at IS NULL AND NEW.stopped_at IS NOT NULL
BEGIN
  UPDATE spindle_cluster SET control_version = control_version + 1;
END;

-- History (007_history.sql): every attempt is told once, also one that ended in a nap or a
-- hand-back, which the row forgets at the next fetch.
DROP TRIGGER spindle_jobs_history;
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
  WHERE (OLD.state = 'running' AND NEW.state <> 'running') OR OLD.state = 'completed';
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
