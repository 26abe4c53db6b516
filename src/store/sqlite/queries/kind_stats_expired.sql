-- Counts ?3 more expired jobs of kind ?2 at ?1 (job_expire.sql).
INSERT INTO spindle_kind_stats (kind, expired, updated_at) VALUES (?2, ?3, ?1)
ON CONFLICT (kind) DO UPDATE SET expired = expired + excluded.expired
