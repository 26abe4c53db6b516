-- Every kind's run-time estimate and deadline counts (kind_stats_flush.sql, job_expire.sql).
SELECT kind, estimate_ms, samples, missed, expired, updated_at
FROM spindle.kind_stats
ORDER BY kind COLLATE "C"
