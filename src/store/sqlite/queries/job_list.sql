-- Newest first. NULL filters (?1 states, a JSON array; ?2 queue; ?3 kind; ?5 after: only older
-- jobs; ?8 serial key) do not filter. A job's children: job_children.sql.
SELECT id, kind, queue, args, priority, run_at, state, attempt, max_attempts, timeout_ms, errors,
       created_at, started_at, finished_at, lease_owner, lease_expires_at, step, checkpoint,
       parent_id, children_total, children_pending, progress, result, attempts_used, serial_key, serial_held,
       deadline, expires_at, unique_key, gate_wait, fair_key
FROM spindle_jobs
WHERE (?1 IS NULL OR state IN (SELECT value FROM json_each(?1)))
  AND (?2 IS NULL OR queue = ?2)
  AND (?3 IS NULL OR kind = ?3)
  AND (?8 IS NULL OR serial_key = ?8)
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
ORDER BY id DESC
LIMIT ?4
