-- Children, results and progress (docs/jobs.md).
--
-- A step may enqueue child jobs with its checkpoint; the parent then waits (state 'waiting')
-- until its last child reaches a final state. children_total counts its children and
-- children_pending the unfinished ones. A trigger keeps the count, so every path that finishes a
-- job (a worker's outcome, a rescue, a cancel) counts, and the row lock on the parent
-- serializes children that finish at once.
ALTER TYPE spindle.job_state ADD VALUE IF NOT EXISTS 'waiting';

ALTER TABLE spindle.jobs
  ADD COLUMN parent_id uuid,
  ADD COLUMN children_total integer NOT NULL DEFAULT 0,
  ADD COLUMN children_pending integer NOT NULL DEFAULT 0,
  ADD COLUMN progress jsonb,
  ADD COLUMN result jsonb;

CREATE INDEX jobs_parent_idx ON spindle.jobs (parent_id) WHERE parent_id IS NOT NULL;

-- A child became final (-1) or was retried out of a final state (+1). The last child is a
-- wake-up for its parent: a waiting or napping parent becomes available, a running one keeps it
-- for its next nap (wake_requested), as Client::Wake does.
CREATE FUNCTION spindle.child_changed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  final boolean := NEW.state IN ('completed', 'failed', 'cancelled', 'expired');
  parent_queue text;
BEGIN
  UPDATE spindle.jobs
  SET children_pending = children_pending + CASE WHEN final THEN -1 ELSE 1 END,
      state = CASE WHEN final AND children_pending = 1 AND state IN ('waiting', 'scheduled')
                   THEN 'available' ELSE state END,
      run_at = CASE WHEN final AND children_pending = 1 AND state = 'scheduled' THEN now()
                    ELSE run_at END,
      wake_requested = wake_requested OR (final AND children_pending = 1 AND state = 'running')
  WHERE id = NEW.parent_id
  RETURNING CASE WHEN state = 'available' THEN queue END INTO parent_queue;
  IF parent_queue IS NOT NULL THEN
    PERFORM pg_notify('spindle_jobs', parent_queue);
  END IF;
  RETURN NULL;
END
$$;

CREATE TRIGGER jobs_child_changed AFTER UPDATE OF state ON spindle.jobs FOR EACH ROW
  WHEN (NEW.parent_id IS NOT NULL
        AND (NEW.state IN ('completed', 'failed', 'cancelled', 'expired'))
            <> (OLD.state IN ('completed', 'failed', 'cancelled', 'expired')))
  EXECUTE FUNCTION spindle.child_changed();

-- A cancelled job's unfinished children are cancelled too (and theirs, through this trigger);
-- the workers of running ones are told.
CREATE FUNCTION spindle.parent_cancelled() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  told integer;
BEGIN
  WITH kids AS (
    SELECT id, lease_owner FROM spindle.jobs
    WHERE parent_id = NEW.id AND state NOT IN ('completed', 'failed', 'cancelled', 'expired')
    FOR UPDATE
  ), cancelled AS (
    UPDATE spindle.jobs j
    SET state = 'cancelled', finished_at = NEW.finished_at, lease_owner = NULL,
        lease_expires_at = NULL
    FROM kids
    WHERE j.id = kids.id
    RETURNING kids.lease_owner
  )
  SELECT count(*) FILTER (WHERE pg_notify('spindle_control', lease_owner) IS NULL) INTO told
  FROM cancelled WHERE lease_owner IS NOT NULL;
  RETURN NULL;
END
$$;

CREATE TRIGGER jobs_parent_cancelled AFTER UPDATE OF state ON spindle.jobs FOR EACH ROW
  WHEN (NEW.state = 'cancelled' AND OLD.state <> 'cancelled')
  EXECUTE FUNCTION spindle.parent_cancelled();
