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

-- The lease index covers rows with a lease, not "state = 'running'": the batched finish and renew
-- statements filter on state = 'running', and a partial index with that predicate let the
-- planner drive them from it (a scan of every running job per outcome, tens of seconds for a
-- large batch on a table whose statistics lag behind). Rescue and eviction look leases up by
-- lease_expires_at, which this index serves.
DROP INDEX spindle.jobs_lease_idx;
CREATE INDEX jobs_lease_idx ON spindle.jobs (lease_expires_at) WHERE lease_expires_at IS NOT NULL;
