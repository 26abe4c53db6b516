-- Every job's timeline (docs/jobs.md): its state and step transitions, the last 50, written by a
-- trigger so that every path (the engine, SQL, other tools) records them. An entry that repeats
-- the previous one (same type and detail) only moves its timestamp.
ALTER TABLE spindle.jobs ADD COLUMN history jsonb NOT NULL DEFAULT '[]';

CREATE FUNCTION spindle.history_push(h jsonb, type text, detail text, at timestamptz)
  RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE
    WHEN h->-1->>'type' = type AND h->-1->>'detail' = detail
      THEN jsonb_set(h, '{-1,at}', to_jsonb(at))
    ELSE (CASE WHEN jsonb_array_length(h) >= 50 THEN h - 0 ELSE h END)
         || jsonb_build_array(jsonb_build_object('at', at, 'type', type, 'detail', detail))
  END
$$;

CREATE FUNCTION spindle.jobs_history() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' OR NEW.state IS DISTINCT FROM OLD.state THEN
    NEW.history := spindle.history_push(NEW.history, NEW.state::text,
      CASE
        WHEN NEW.state = 'running' THEN 'attempt ' || NEW.attempt || ' on ' || coalesce(NEW.lease_owner, '?')
        WHEN NEW.state IN ('retryable', 'failed') AND jsonb_array_length(NEW.errors) > 0
          THEN NEW.errors->-1->>'error'
        ELSE '' END,
      clock_timestamp());
  END IF;
  IF TG_OP = 'UPDATE' AND NEW.step IS NOT NULL
     AND (NEW.step IS DISTINCT FROM OLD.step OR NEW.checkpoint IS DISTINCT FROM OLD.checkpoint) THEN
    NEW.history := spindle.history_push(NEW.history, 'step', NEW.step, clock_timestamp());
  END IF;
  RETURN NEW;
END
$$;

CREATE TRIGGER jobs_history BEFORE INSERT OR UPDATE OF state, step, checkpoint ON spindle.jobs
  FOR EACH ROW EXECUTE FUNCTION spindle.jobs_history();
