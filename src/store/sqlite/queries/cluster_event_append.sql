-- Appends one event of the cluster's history at ?1 (cluster_event_forget.sql then keeps the
-- newest 1,000).
INSERT INTO spindle_cluster_events (at, kind, worker, detail) VALUES (?1, ?2, ?3, ?4)
