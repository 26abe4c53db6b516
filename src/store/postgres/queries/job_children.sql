-- The children of job $8, newest first, through the parent index; the other filters (and $6,
-- $7: at risk, now; $9: the serial key) as in job_list.sql.
SELECT id, kind, queue, args, priority, run_at, state, attempt, max_attempts, timeout_ms, errors,
       created_at, started_at, finished_at, lease_owner, lease_expires_at, step, checkpoint,
       parent_id, children_total, children_pending, progress, result, attempts_used, serial_key, serial_held,
       deadline, expires_at, unique_key, gate_wait, fair_key
FROM spindle.jobs
WHERE parent_id = $8
  AND ($1::spindle.job_state[] IS NULL OR state = ANY ($1))
  AND ($2::text IS NULL OR queue = $2)
  AND ($3::text IS NULL OR kind = $3)
  AND ($9::text IS NULL OR serial_key = $9)
  AND ($5::uuid IS NULL OR id < $5)
  -- Args (JobFilter::args): $10 a JSON array of [dotted path, value] pairs, each held by args.
  AND ($10::jsonb IS NULL OR NOT EXISTS (
         SELECT 1 FROM jsonb_array_elements($10) f
         WHERE args #> string_to_array(f ->> 0, '.') IS DISTINCT FROM f -> 1))
  AND (NOT $6::boolean OR (state IN ('scheduled', 'available', 'retryable')
       AND deadline - coalesce((SELECT s.estimate_ms FROM spindle.kind_stats s
                                WHERE s.kind = jobs.kind), 0) * interval '1 millisecond'
           <= coalesce($7::timestamptz, now())))
ORDER BY id DESC
LIMIT $4
