-- Kind defaults (docs/jobs.md, "Kind defaults"), and what each member serves.
--
-- A worker records the defaults it declares for the kinds it handles when it starts; each
-- worker that declares defaults for a kind replaces its row (the last one to start wins). Every
-- enqueue applies them to what its caller left unset (NULL): the caller's value, else the
-- kind's, else the built-in default (queue 'default', priority 0, max_attempts 25, no timeout).
CREATE TABLE spindle.kinds (
  kind          text PRIMARY KEY CHECK (length(kind) BETWEEN 1 AND 255),
  queue         text CHECK (length(queue) BETWEEN 1 AND 255),
  priority      integer,
  max_attempts  integer CHECK (max_attempts >= 1),
  timeout_ms    bigint CHECK (timeout_ms > 0),
  worker        text NOT NULL,
  registered_at timestamptz NOT NULL
);

-- The kinds a member has handlers for, and each of its queues' concurrency ({"queue": n}):
-- whether a live worker serves a kind in a queue, and how many run a queue's jobs.
ALTER TABLE spindle.workers ADD COLUMN kinds text[] NOT NULL DEFAULT '{}';
ALTER TABLE spindle.workers ADD COLUMN concurrency jsonb NOT NULL DEFAULT '{}'
  CHECK (jsonb_typeof(concurrency) = 'object');

-- Enqueue from SQL, as in 008_attempts.sql, with the kind's defaults for what the caller leaves
-- unset (NULL, the parameters' default now).
CREATE OR REPLACE FUNCTION spindle.enqueue(
    kind text,
    args jsonb DEFAULT '{}',
    queue text DEFAULT NULL,
    priority integer DEFAULT NULL,
    run_at timestamptz DEFAULT NULL,
    max_attempts integer DEFAULT NULL,
    timeout_ms bigint DEFAULT NULL)
  RETURNS uuid LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  new_id uuid := spindle.uuid_v7();
  the_queue text;
  the_priority integer;
  the_max_attempts integer;
  the_timeout_ms bigint;
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
  SELECT coalesce(enqueue.queue, k.queue, 'default'), coalesce(enqueue.priority, k.priority, 0),
         coalesce(enqueue.max_attempts, k.max_attempts, 25),
         coalesce(enqueue.timeout_ms, k.timeout_ms)
  INTO the_queue, the_priority, the_max_attempts, the_timeout_ms
  FROM (SELECT) AS one LEFT JOIN spindle.kinds k ON k.kind = enqueue.kind;
  INSERT INTO spindle.jobs (id, kind, queue, args, priority, run_at, state, max_attempts, timeout_ms)
  VALUES (new_id, kind, the_queue, coalesce(args, '{}'), the_priority, coalesce(run_at, now()),
          CASE WHEN due THEN 'available' ELSE 'scheduled' END::spindle.job_state,
          the_max_attempts, the_timeout_ms);
  IF due THEN
    PERFORM pg_notify('spindle_jobs', the_queue);
  END IF;
  RETURN new_id;
END
$$;
