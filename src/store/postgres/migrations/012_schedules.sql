-- Periodic jobs (docs/jobs.md, "Periodic jobs"). One row per schedule, as declared (TOML or
-- WorkerOptions::schedules) and as people steer it (paused). `last_slot` makes each slot's job
-- unique across the cluster: a slot's job is inserted only in the transaction that moves
-- `last_slot` forward to that slot (UPDATE ... WHERE last_slot < slot), so two leaders racing
-- for a slot, or a leader that lost its term meanwhile, enqueue it once.
CREATE TABLE spindle.schedules (
  name             text PRIMARY KEY CHECK (length(name) BETWEEN 1 AND 255),
  cron             text NOT NULL,
  zone             text NOT NULL DEFAULT 'UTC',
  kind             text NOT NULL CHECK (length(kind) BETWEEN 1 AND 255),
  args             jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(args) = 'object'),
  queue            text CHECK (length(queue) BETWEEN 1 AND 255),
  priority         integer,
  max_attempts     integer CHECK (max_attempts >= 1),
  timeout_ms       bigint CHECK (timeout_ms > 0),
  jitter_ms        bigint NOT NULL DEFAULT 0 CHECK (jitter_ms >= 0),
  overrun          text NOT NULL DEFAULT 'skip' CHECK (overrun IN ('skip', 'queue', 'replace')),
  catch_up         text NOT NULL DEFAULT 'latest' CHECK (catch_up IN ('latest', 'none')),
  paused           boolean NOT NULL DEFAULT false,
  -- Slots up to here are taken; set to the time of declaration and of a resume.
  last_slot        timestamptz NOT NULL,
  last_job_id      uuid,
  last_enqueued_at timestamptz,
  created_at       timestamptz NOT NULL,
  updated_at       timestamptz NOT NULL
);
