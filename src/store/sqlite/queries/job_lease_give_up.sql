-- 1 when worker ?1 must give up attempt ?3 of job ?2: it is gone, no longer running under this
-- worker and attempt (cancelled, stopped, rescued), or the cluster is stopped.
SELECT NOT EXISTS (SELECT 1 FROM spindle_jobs
                   WHERE id = ?2 AND state = 'running' AND lease_owner = ?1 AND attempt = ?3)
       OR (SELECT stopped_at FROM spindle_cluster) IS NOT NULL
