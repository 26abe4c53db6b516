-- The worker that runs job ?1, if it runs: a stop or cancel clears the lease, and the store must
-- tell that worker after the change (SQLite's RETURNING shows only the new row).
SELECT lease_owner FROM spindle_jobs WHERE id = ?1 AND state = 'running'
