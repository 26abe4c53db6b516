-- Attempt-scoped leases, worker incarnations, and args every worker can read (issue 10).
--
-- A job taken from a running worker (stopped, cancelled, the cluster stopped) now keeps that
-- attempt's lease while the attempt's process may still be alive, and is not fetched until the
-- lease ends (job_fetch.sql). Stops, cancels and the cluster stop are queries; a cancelled
-- parent's running children are cancelled by the trigger function, replaced here to keep their
-- leases too.
CREATE OR REPLACE FUNCTION spindle.parent_cancelled() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  n integer;
BEGIN
  WITH kids AS (
    SELECT id, state, lease_owner FROM spindle.jobs
    WHERE parent_id = NEW.id AND state NOT IN ('completed', 'failed', 'cancelled', 'expired')
    FOR UPDATE
  ), cancelled AS (
    UPDATE spindle.jobs j
    SET state = 'cancelled', finished_at = NEW.finished_at
    FROM kids
    WHERE j.id = kids.id
    RETURNING CASE WHEN kids.state = 'running' THEN kids.lease_owner END AS worker
  )
  SELECT count(*) FILTER (WHERE pg_notify('spindle_control', worker) IS NULL) INTO n
  FROM cancelled WHERE worker IS NOT NULL;
  RETURN NULL;
END
$$;

-- Each worker process makes a random token when it starts: a second process registering with a
-- live worker's id (another incarnation) is refused instead of sharing its row.
ALTER TABLE spindle.workers ADD COLUMN incarnation text NOT NULL DEFAULT '';

-- Enqueue from SQL, as in 001_initial.sql, refusing args a worker cannot read: workers read JSON
-- numbers as doubles, and one that rounds past the largest double (1e400, say), which jsonb
-- stores, would make the job unreadable. The bound is 2^1024 - 2^970, the smallest magnitude
-- that rounds to infinity; tiny numbers (1e-400) read as 0 and are accepted.
CREATE OR REPLACE FUNCTION spindle.enqueue(
    kind text,
    args jsonb DEFAULT '{}',
    queue text DEFAULT 'default',
    priority integer DEFAULT 0,
    run_at timestamptz DEFAULT NULL,
    max_attempts integer DEFAULT 25,
    timeout_ms bigint DEFAULT NULL)
  RETURNS uuid LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  new_id uuid := spindle.uuid_v7();
  due boolean := run_at IS NULL OR run_at <= now();
  too_big jsonb := jsonb_path_query_first(args,
    'strict $.** ? (@.type() == "number" && @.abs() >= $max)',
    jsonb_build_object('max', 2::numeric ^ 1024 - 2::numeric ^ 970));
BEGIN
  IF too_big IS NOT NULL THEN
    RAISE EXCEPTION USING ERRCODE = '22023',
      MESSAGE = format('spindle.enqueue: the args of a %s job hold the number %s, beyond the '
                       'range workers read (a double: at most about 1.8e308 in magnitude)',
                       kind, CASE WHEN length(too_big::text) > 24
                                  THEN left(too_big::text, 12) || '...(' ||
                                       length(too_big::text) || ' characters)'
                                  ELSE too_big::text END);
  END IF;
  INSERT INTO spindle.jobs (id, kind, queue, args, priority, run_at, state, max_attempts, timeout_ms)
  VALUES (new_id, kind, queue, coalesce(args, '{}'), priority, coalesce(run_at, now()),
          CASE WHEN due THEN 'available' ELSE 'scheduled' END::spindle.job_state,
          max_attempts, timeout_ms);
  IF due THEN
    PERFORM pg_notify('spindle_jobs', queue);
  END IF;
  RETURN new_id;
END
$$;
