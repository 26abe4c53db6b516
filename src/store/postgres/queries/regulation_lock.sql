-- The advisory lock that every regulated fetch and every release of places takes for the rest of
-- its transaction (migration 015; the same key as there), so that no two decide on the same counts.
-- A fetch's transaction then commits without waiting for the disk, so that the lock is not held
-- meanwhile; the jobs it leased run only once wal_flush.sql has made the commit durable.
SELECT pg_advisory_xact_lock(7361626470), set_config('synchronous_commit', 'off', true)
