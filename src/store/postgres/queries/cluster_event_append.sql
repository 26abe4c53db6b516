-- Appends one event of the cluster's history at $1 (NULL: the server's now), and forgets all but
-- the newest 1,000.
WITH added AS (INSERT INTO spindle.cluster_events (at, kind, worker, detail)
               VALUES (coalesce($1, now()), $2, $3, $4) RETURNING id)
DELETE FROM spindle.cluster_events WHERE id <= (SELECT id - 1000 FROM added)
