-- Cluster coordination (docs/coordination.md): the members, the leader term, the membership
-- version that announces changes, and who holds each assignment.

CREATE TABLE spindle.workers (
  id                   text PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 255),
  host                 text NOT NULL,
  pid                  integer NOT NULL,
  version              text NOT NULL,
  queues               text[] NOT NULL DEFAULT '{}',
  roles                text[] NOT NULL DEFAULT '{}',
  partition            integer CHECK (partition >= 1),
  partition_count      integer NOT NULL DEFAULT 0,
  heartbeat_timeout_ms bigint NOT NULL CHECK (heartbeat_timeout_ms > 0),
  started_at           timestamptz NOT NULL,
  heartbeat_at         timestamptz NOT NULL
);

-- One row: the membership version and the leader term.
CREATE TABLE spindle.cluster (
  id                 boolean PRIMARY KEY DEFAULT true CHECK (id),
  membership_version bigint NOT NULL DEFAULT 0,
  leader             text,
  leader_term        bigint NOT NULL DEFAULT 0,
  leader_expires_at  timestamptz
);
INSERT INTO spindle.cluster DEFAULT VALUES;

CREATE TABLE spindle.assignments (
  name       text PRIMARY KEY,
  owner      text NOT NULL,
  claimed_at timestamptz NOT NULL
);
CREATE INDEX assignments_owner_idx ON spindle.assignments (owner);

-- No index on jobs.lease_owner: evicting a member reads the running jobs through the lease index
-- (there are few), and an index on lease_owner tempts the planner into driving the batched
-- finish and renew statements from it (a nested loop over every running job of the worker per
-- outcome: seconds instead of milliseconds for a batch of thousands).
