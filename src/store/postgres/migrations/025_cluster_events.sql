-- The cluster's history (docs/coordination.md, "History"): who took the leader term, which
-- members were evicted, and the jobs rescued from expired leases or evicted members. Appended by
-- the worker that acted (Store::ClusterEventAppend), the newest 1,000 kept; shown on the
-- dashboard's Cluster page.
CREATE TABLE spindle.cluster_events (
  id     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  at     timestamptz NOT NULL,
  kind   text NOT NULL,  -- elected, evicted, rescued
  worker text NOT NULL,  -- elected: the new leader; evicted: the member; rescued: who rescued
  detail text NOT NULL
);
