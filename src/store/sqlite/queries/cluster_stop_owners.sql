-- The workers running jobs, read before cluster_stop_release.sql hands the jobs back: the store
-- tells them after the stop.
SELECT DISTINCT lease_owner FROM spindle_jobs WHERE state = 'running' AND lease_owner IS NOT NULL
