-- How many jobs job_list.sql (or job_children.sql, ?4 the parent, ?8 the
-- serial key; ?6, ?7 at risk and now) would list without a limit.
SELECT count(*)
FROM spindle_jobs
WHERE (?1 IS NULL OR state IN (SELECT value FROM json_each(?1)))
  AND (?2 IS NULL OR queue = ?2)
  AND (?3 IS NULL OR kind = ?3)
  AND (?8 IS NULL OR serial_key = ?8)
  AND (?4 IS NULL OR parent_id = ?4)
  AND (?5 IS NULL OR id < ?5)
  -- Args (JobFilter::args): ?9 a JSON array of [dotted path, value] pairs, each held by args.
  AND (?9 IS NULL OR NOT EXISTS (
         SELECT 1 FROM json_each(?9) f
         WHERE json_extract(args, '$.' || json_extract(f.value, '$[0]'))
               IS NOT json_extract(f.value, '$[1]')))
  -- At risk (JobFilter::at_risk): still waiting, and its kind's estimate (ms) does not fit
  -- before its deadline any more. ?7 = now.
  AND (?6 = 0 OR (state IN ('scheduled', 'available', 'retryable')
       AND deadline - coalesce((SELECT s.estimate_ms FROM spindle_kind_stats s
                                WHERE s.kind = spindle_jobs.kind), 0) * 1000 <= ?7))
