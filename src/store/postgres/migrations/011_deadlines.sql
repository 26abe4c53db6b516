-- Deadlines (docs/jobs.md, "Deadlines").
--
-- A job's soft `deadline` (when it should be finished) and firm `expires_at` (it never starts
-- after it). Ordinary jobs carry NULL in both and pay nothing: both indexes are partial, and
-- neither column is written after the insert.
ALTER TABLE spindle.jobs ADD COLUMN deadline timestamptz, ADD COLUMN expires_at timestamptz;

-- The earliest-deadline-first fetch (job_fetch_deadline.sql) reads jobs with a deadline here in
-- order, and those without one from jobs_fetch_idx.
CREATE INDEX jobs_deadline_idx ON spindle.jobs (queue, priority, deadline, run_at, id)
  WHERE deadline IS NOT NULL AND state IN ('scheduled', 'available', 'retryable');
-- The expirer (job_expire.sql) finds waiting jobs whose expires_at passed.
CREATE INDEX jobs_expires_idx ON spindle.jobs (expires_at)
  WHERE expires_at IS NOT NULL AND state IN ('scheduled', 'available', 'retryable');

-- A queue's dispatch settings, as the last worker to start that serves it declared them.
ALTER TABLE spindle.queues
  ADD COLUMN ordering text NOT NULL DEFAULT 'fifo' CHECK (ordering IN ('fifo', 'deadline')),
  ADD COLUMN shed boolean NOT NULL DEFAULT false;

-- How long each kind runs (the 90th percentile, in ms) as its workers measured it, and how many
-- of its jobs finished after their deadline or expired. Workers flush what they measured in
-- memory now and then (kind_stats_flush.sql); the expirer counts expiries.
CREATE TABLE spindle.kind_stats (
  kind        text PRIMARY KEY,
  estimate_ms bigint CHECK (estimate_ms >= 0),
  samples     bigint NOT NULL DEFAULT 0,
  missed      bigint NOT NULL DEFAULT 0,
  expired     bigint NOT NULL DEFAULT 0,
  updated_at  timestamptz NOT NULL
);

-- Enqueue from SQL, as in 009_kinds.sql, with a deadline and an expiry. A new signature, so the
-- old function goes.
DROP FUNCTION spindle.enqueue(text, jsonb, text, integer, timestamptz, integer, bigint);
CREATE FUNCTION spindle.enqueue(
    kind text,
    args jsonb DEFAULT '{}',
    queue text DEFAULT NULL,
    priority integer DEFAULT NULL,
    run_at timestamptz DEFAULT NULL,
    max_attempts integer DEFAULT NULL,
    timeout_ms bigint DEFAULT NULL,
    deadline timestamptz DEFAULT NULL,
    expires_at timestamptz DEFAULT NULL)
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
  IF expires_at IS NOT NULL AND expires_at <= coalesce(run_at, now()) THEN
    RAISE EXCEPTION USING ERRCODE = '22023',
      MESSAGE = format('spindle.enqueue: expires_at %s is not after the time the %s job would '
                       'run (%s): it would never run', expires_at, kind, coalesce(run_at, now()));
  END IF;
  SELECT coalesce(enqueue.queue, k.queue, 'default'), coalesce(enqueue.priority, k.priority, 0),
         coalesce(enqueue.max_attempts, k.max_attempts, 25),
         coalesce(enqueue.timeout_ms, k.timeout_ms)
  INTO the_queue, the_priority, the_max_attempts, the_timeout_ms
  FROM (SELECT) AS one LEFT JOIN spindle.kinds k ON k.kind = enqueue.kind;
  INSERT INTO spindle.jobs (id, kind, queue, args, priority, run_at, state, max_attempts, timeout_ms,
                            deadline, expires_at)
  VALUES (new_id, kind, the_queue, coalesce(args, '{}'), the_priority, coalesce(run_at, now()),
          CASE WHEN due THEN 'available' ELSE 'scheduled' END::spindle.job_state,
          the_max_attempts, the_timeout_ms, deadline, expires_at);
  IF due THEN
    PERFORM pg_notify('spindle_jobs', the_queue);
  END IF;
  RETURN new_id;
END
$$;
