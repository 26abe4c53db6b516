-- Newest first. Empty filters ($1 states, $2 queue, $3 kind, $5 after: only older jobs, $8
-- serial key) do not filter. A job's children: job_children.sql.
SELECT id, kind, queue, args, priority, run_at, state, attempt, max_attempts, timeout_ms, errors,
       created_at, started_at, finished_at, lease_owner, lease_expires_at, step, checkpoint,
       parent_id, children_total, children_pending, progress, result, attempts_used, serial_key, serial_held,
       deadline, expires_at, unique_key, gate_wait, fair_key
FROM spindle.jobs
WHERE ($1::spindle.job_state[] IS NULL OR state = ANY ($1))
  AND ($2::text IS NULL OR queue = $2)
  AND ($3::text IS NULL OR kind = $3)
  AND ($8::text IS NULL OR serial_key = $8)
  AND ($5::uuid IS NULL OR id < $5)
  -- Args (JobFilter::args): $9 a JSON array of [dotted path, value] pairs, each held by args.
  AND ($9::jsonb IS NULL OR NOT EXISTS (
         SELECT 1 FROM jsonb_array_elements($9) f
         WHERE args #> string_to_array(f ->> 0, '.') IS DISTINCT FROM f -> 1))
  -- At risk (JobFilter::at_risk): still waiting, and its kind's estimate does not fit before
  -- its deadline any more. $7 = now (NULL: the database's clock).
  AND (NOT $6::boolean OR (state IN ('scheduled', 'available', 'retryable')
       AND deadline - coalesce((SELECT s.estimate_ms FROM spindle.kind_stats s
                                WHERE s.kind = jobs.kind), 0) * interval '1 millisecond'
           <= coalesce($7::timestamptz, now())))
ORDER BY id DESC
LIMIT $4
