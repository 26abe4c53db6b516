-- Merges what a worker measured (arrays, one element per kind: $2 kind, $3 its 90th percentile
-- run time in ms (NULL: no runs), $4 runs, $5 jobs that finished after their deadline) into each
-- kind's record at $1 (NULL: the database's clock). The estimate moves toward the worker's in
-- proportion to its runs, the record weighing as at most 1000 runs; the counts add up.
INSERT INTO spindle.kind_stats AS s (kind, estimate_ms, samples, missed, updated_at)
SELECT kind, estimate_ms, samples, missed, coalesce($1::timestamptz, now())
FROM unnest($2::text[], $3::bigint[], $4::bigint[], $5::bigint[])
  AS t(kind, estimate_ms, samples, missed)
ON CONFLICT (kind) DO UPDATE
SET estimate_ms = CASE
      WHEN excluded.estimate_ms IS NULL OR excluded.samples = 0 THEN s.estimate_ms
      WHEN s.estimate_ms IS NULL THEN excluded.estimate_ms
      ELSE round(s.estimate_ms + (excluded.estimate_ms - s.estimate_ms) * excluded.samples::numeric
                 / (excluded.samples + least(s.samples, 1000)))::bigint END,
    samples = s.samples + excluded.samples,
    missed = s.missed + excluded.missed,
    updated_at = excluded.updated_at
