-- Cluster coordination (docs/coordination.md), as PostgreSQL's 002_cluster.sql: the members,
-- the leader term, the membership version that announces changes, and who holds each
-- assignment. Arrays (queues, roles) are JSON text; times are microseconds since the epoch.

CREATE TABLE spindle_workers (
  id                   TEXT PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 255),
  host                 TEXT NOT NULL,
  pid                  INTEGER NOT NULL,
  version              TEXT NOT NULL,
  queues               TEXT NOT NULL DEFAULT '[]' CHECK (json_type(queues) = 'array'),
  roles                TEXT NOT NULL DEFAULT '[]' CHECK (json_type(roles) = 'array'),
  partition            INTEGER CHECK (partition >= 1),
  partition_count      INTEGER NOT NULL DEFAULT 0,
  heartbeat_timeout_ms INTEGER NOT NULL CHECK (heartbeat_timeout_ms > 0),
  started_at           INTEGER NOT NULL,
  heartbeat_at         INTEGER NOT NULL
);

-- One row: the membership version and the leader term.
CREATE TABLE spindle_cluster (
  id                 INTEGER PRIMARY KEY CHECK (id = 1),
  membership_version INTEGER NOT NULL DEFAULT 0,
  leader             TEXT,
  leader_term        INTEGER NOT NULL DEFAULT 0,
  leader_expires_at  INTEGER
);
INSERT INTO spindle_cluster (id) VALUES (1);

CREATE TABLE spindle_assignments (
  name       TEXT PRIMARY KEY,
  owner      TEXT NOT NULL,
  claimed_at INTEGER NOT NULL
);
CREATE INDEX spindle_assignments_owner_idx ON spindle_assignments (owner);

-- No index on jobs.lease_owner: evicting a member reads the running jobs through the lease index
-- (there are few), and an index on lease_owner tempts the planner into driving the batched
-- finish and renew statements from it (a nested loop over every running job of the worker per
-- outcome: seconds instead of milliseconds for a batch of thousands).

-- The lease index covers rows with a lease, not "state = 'running'": the batched finish and renew
-- statements filter on state = 'running', and a partial index with that predicate let the
-- planner drive them from it (a scan of every running job per outcome, tens of seconds for a
-- large batch on a table whose statistics lag behind). Rescue and eviction look leases up by
-- lease_expires_at, which this index serves.
DROP INDEX spindle_jobs_lease_idx;
CREATE INDEX spindle_jobs_lease_idx ON spindle_jobs (lease_expires_at) WHERE lease_expires_at IS NOT NULL;
