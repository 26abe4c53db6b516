-- How many jobs job_list.sql (or job_children.sql, $4 the parent, $8 the
-- serial key; $6, $7 at risk and now) would list without a limit.
SELECT count(*)
FROM spindle.jobs
WHERE ($1::spindle.job_state[] IS NULL OR state = ANY ($1))
  AND ($2::text IS NULL OR queue = $2)
  AND ($3::text IS NULL OR kind = $3)
  AND ($8::text IS NULL OR serial_key = $8)
  AND ($4::uuid IS NULL OR parent_id = $4)
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
