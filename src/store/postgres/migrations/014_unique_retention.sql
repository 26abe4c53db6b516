-- Unique jobs (docs/jobs.md, "Unique jobs").
--
-- A job enqueued with a unique key holds it while it is in one of its unique_states; the partial
-- unique index below is what enforces it, also between processes: an enqueue of a key that a job
-- holds inserts nothing (INSERT ... ON CONFLICT DO NOTHING) and returns the holder's id. With a
-- period, the key is unique within each period (unique_bucket: the start of the period, counted
-- from the Unix epoch, that the job's run_at fell in). Keyless jobs leave all three NULL and are
-- not in the index, so they cost nothing.
ALTER TABLE spindle.jobs
  ADD COLUMN unique_key text CHECK (length(unique_key) BETWEEN 1 AND 1000),
  ADD COLUMN unique_bucket timestamptz,
  ADD COLUMN unique_states spindle.job_state[],
  ADD CONSTRAINT jobs_unique_complete CHECK ((unique_key IS NULL) = (unique_states IS NULL));
CREATE UNIQUE INDEX jobs_unique_idx
  ON spindle.jobs (unique_key, coalesce(unique_bucket, '-infinity'))
  WHERE unique_key IS NOT NULL AND state = ANY (unique_states);

-- Enqueue from SQL, as in 011_deadlines.sql (every parameter and check of it, in its order), with
-- the serial key (013) and the unique key, its period and its states after them: for a unique
-- key that a job holds, nothing is inserted and the holder's id is returned. Dropped and created
-- again: a new signature.
DROP FUNCTION spindle.enqueue(text, jsonb, text, integer, timestamptz, integer, bigint,
                              timestamptz, timestamptz);
CREATE FUNCTION spindle.enqueue(
    kind text,
    args jsonb DEFAULT '{}',
    queue text DEFAULT NULL,
    priority integer DEFAULT NULL,
    run_at timestamptz DEFAULT NULL,
    max_attempts integer DEFAULT NULL,
    timeout_ms bigint DEFAULT NULL,
    deadline timestamptz DEFAULT NULL,
    expires_at timestamptz DEFAULT NULL,
    serial_key text DEFAULT NULL,
    unique_key text DEFAULT NULL,
    unique_period interval DEFAULT NULL,
    unique_states spindle.job_state[] DEFAULT NULL)
  RETURNS uuid LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  new_id uuid;
  held_by uuid;
  the_queue text;
  the_priority integer;
  the_max_attempts integer;
  the_timeout_ms bigint;
  due boolean := run_at IS NULL OR run_at <= now();
  the_states spindle.job_state[];
  the_bucket timestamptz;
  period_s numeric := extract(epoch FROM unique_period);
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
  IF expires_at IS NOT NULL AND expires_at <= coalesce(run_at, now()) THEN
    RAISE EXCEPTION USING ERRCODE = '22023',
      MESSAGE = format('spindle.enqueue: expires_at %s is not after the time the %s job would '
                       'run (%s): it would never run', expires_at, kind, coalesce(run_at, now()));
  END IF;
  IF unique_key IS NULL AND (unique_period IS NOT NULL OR unique_states IS NOT NULL) THEN
    RAISE EXCEPTION USING ERRCODE = '22023',
      MESSAGE = 'spindle.enqueue: unique_period and unique_states need a unique_key';
  END IF;
  IF period_s <= 0 THEN
    RAISE EXCEPTION USING ERRCODE = '22023',
      MESSAGE = format('spindle.enqueue: unique_period must be positive, got %s', unique_period);
  END IF;
  IF NOT unique_states @> '{scheduled,available,running,retryable,waiting}' THEN
    RAISE EXCEPTION USING ERRCODE = '22023',
      MESSAGE = 'spindle.enqueue: unique_states must include scheduled, available, running, '
                'retryable and waiting (a job moves between them on its own)';
  END IF;
  IF unique_key IS NOT NULL THEN
    the_states := coalesce(unique_states, '{scheduled,available,running,retryable,waiting,stopped}');
    the_bucket := to_timestamp(floor(extract(epoch FROM coalesce(run_at, now())) / period_s)
                               * period_s);
  END IF;
  SELECT coalesce(enqueue.queue, k.queue, 'default'), coalesce(enqueue.priority, k.priority, 0),
         coalesce(enqueue.max_attempts, k.max_attempts, 25),
         coalesce(enqueue.timeout_ms, k.timeout_ms)
  INTO the_queue, the_priority, the_max_attempts, the_timeout_ms
  FROM (SELECT) AS one LEFT JOIN spindle.kinds k ON k.kind = enqueue.kind;
  -- A key's holder can finish between the conflict and the look-up: then try again.
  FOR try IN 1..5 LOOP
    -- serial_seq 0 for a unique job: placed in its serial key's line only if inserted (013).
    INSERT INTO spindle.jobs (id, kind, queue, args, priority, run_at, state, max_attempts,
                              timeout_ms, deadline, expires_at, serial_key, serial_seq,
                              unique_key, unique_bucket, unique_states)
    VALUES (spindle.uuid_v7(), kind, the_queue, coalesce(args, '{}'), the_priority,
            coalesce(run_at, now()),
            CASE WHEN due THEN 'available' ELSE 'scheduled' END::spindle.job_state,
            the_max_attempts, the_timeout_ms, deadline, expires_at, serial_key,
            CASE WHEN serial_key IS NOT NULL AND unique_key IS NOT NULL THEN 0 END,
            unique_key, the_bucket, the_states)
    ON CONFLICT DO NOTHING
    RETURNING id INTO new_id;
    IF new_id IS NOT NULL THEN
      IF due THEN
        PERFORM pg_notify('spindle_jobs', the_queue);
      END IF;
      RETURN new_id;
    END IF;
    SELECT j.id INTO held_by FROM spindle.jobs j
    WHERE j.unique_key = enqueue.unique_key
      AND coalesce(j.unique_bucket, '-infinity') = coalesce(the_bucket, '-infinity')
      AND j.state = ANY (j.unique_states);
    IF held_by IS NOT NULL THEN
      RETURN held_by;
    END IF;
  END LOOP;
  RAISE EXCEPTION USING ERRCODE = '40001',
    MESSAGE = format('spindle.enqueue: unique key %s kept changing hands; try again', unique_key);
END
$$;
