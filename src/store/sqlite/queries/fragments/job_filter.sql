  -- What JobFilter selects, for job_list.sql, job_children.sql and job_count.sql. NULL
  -- parameters do not filter: ?1 states (a JSON array), ?2 queue, ?3 kind, ?4 parent, ?5 after
  -- (only older jobs), ?8 serial key, ?10 priority; ?11, ?12 created after and before; ?13, ?14
  -- finished after and before (times in microseconds).
  (?1 IS NULL OR state IN (SELECT value FROM json_each(?1)))
  AND (?2 IS NULL OR queue = ?2)
  AND (?3 IS NULL OR kind = ?3)
  AND (?4 IS NULL OR parent_id = ?4)
  AND (?5 IS NULL OR id < ?5)
  AND (?8 IS NULL OR serial_key = ?8)
  AND (?10 IS NULL OR priority = ?10)
  AND (?11 IS NULL OR created_at > ?11)
  AND (?12 IS NULL OR created_at < ?12)
  AND (?13 IS NULL OR finished_at > ?13)
  AND (?14 IS NULL OR finished_at < ?14)
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
