-- The newest ?1 events of the cluster's history, newest first.
SELECT id, at, kind, worker, detail FROM spindle_cluster_events ORDER BY id DESC LIMIT ?1
