-- The job table, its indexes, and the SQL enqueue function.
-- Runs inside the migrator's transaction, under its advisory lock.

CREATE TYPE spindle.job_state AS ENUM (
  'scheduled', 'available', 'running', 'retryable',
  'completed', 'failed', 'cancelled', 'stopped', 'expired');

CREATE TABLE spindle.jobs (
  id               uuid PRIMARY KEY,
  kind             text NOT NULL CHECK (length(kind) BETWEEN 1 AND 255),
  queue            text NOT NULL DEFAULT 'default' CHECK (length(queue) BETWEEN 1 AND 255),
  args             jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(args) = 'object'),
  priority         integer NOT NULL DEFAULT 0,
  run_at           timestamptz NOT NULL DEFAULT now() CHECK (isfinite(run_at)),
  state            spindle.job_state NOT NULL DEFAULT 'available',
  attempt          integer NOT NULL DEFAULT 0,
  max_attempts     integer NOT NULL DEFAULT 25 CHECK (max_attempts >= 1),
  timeout_ms       bigint CHECK (timeout_ms > 0),
  errors           jsonb NOT NULL DEFAULT '[]',
  created_at       timestamptz NOT NULL DEFAULT now(),
  started_at       timestamptz,
  finished_at      timestamptz,
  lease_owner      text,
  lease_expires_at timestamptz
);

-- The fetch path: only jobs that can still run are indexed, in fetch order.
CREATE INDEX jobs_fetch_idx ON spindle.jobs (queue, priority, run_at, id)
  WHERE state IN ('scheduled', 'available', 'retryable');
-- The rescuer and lease renewal.
CREATE INDEX jobs_lease_idx ON spindle.jobs (lease_expires_at) WHERE state = 'running';
-- Listing and pruning.
CREATE INDEX jobs_state_idx ON spindle.jobs (state, created_at);

-- A UUIDv7 (RFC 9562): 48-bit Unix milliseconds, version 7, variant 10, random rest.
CREATE FUNCTION spindle.uuid_v7() RETURNS uuid LANGUAGE sql VOLATILE AS $$
  SELECT encode(
    set_bit(set_bit(
      overlay(uuid_send(gen_random_uuid())
              PLACING substring(int8send((extract(epoch FROM clock_timestamp()) * 1000)::bigint)
                                FROM 3)
              FROM 1 FOR 6),
      52, 1), 53, 1), 'hex')::uuid
$$;

-- Enqueue from SQL, for example in a trigger. Wakes idle workers with one NOTIFY per queue and
-- transaction (PostgreSQL folds identical notifications of one transaction into one).
CREATE FUNCTION spindle.enqueue(
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
BEGIN
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
