-- Merges what a worker measured of kind ?2 into its record at ?1, as on PostgreSQL (see its
-- kind_stats_flush.sql): ?3 its 90th percentile run time in ms (NULL: no runs), ?4 runs, ?5 jobs
-- that finished after their deadline.
INSERT INTO spindle_kind_stats (kind, estimate_ms, samples, missed, updated_at)
VALUES (?2, ?3, ?4, ?5, ?1)
ON CONFLICT (kind) DO UPDATE
SET estimate_ms = CASE
      WHEN excluded.estimate_ms IS NULL OR excluded.samples = 0 THEN estimate_ms
      WHEN estimate_ms IS NULL THEN excluded.estimate_ms
      ELSE CAST(round(estimate_ms + (excluded.estimate_ms - estimate_ms) * 1.0 * excluded.samples
                      / (excluded.samples + min(samples, 1000))) AS INTEGER) END,
    samples = samples + excluded.samples,
    missed = missed + excluded.missed,
    updated_at = excluded.updated_at
