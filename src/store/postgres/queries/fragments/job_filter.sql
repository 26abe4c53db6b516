  -- What JobFilter selects, for job_list.sql, job_children.sql and job_count.sql. NULL
  -- parameters do not filter: $1 states, $2 queue, $3 kind, $4 parent, $5 after (only older
  -- jobs), $8 serial key, $10 priority; $11, $12 created after and before; $13, $14 finished
  -- after and before.
  ($1::spindle.job_state[] IS NULL OR state = ANY ($1))
  AND ($2::text IS NULL OR queue = $2)
  AND ($3::text IS NULL OR kind = $3)
  AND ($4::uuid IS NULL OR parent_id = $4)
  AND ($5::uuid IS NULL OR id < $5)
  AND ($8::text IS NULL OR serial_key = $8)
  AND ($10::integer IS NULL OR priority = $10)
  AND ($11::timestamptz IS NULL OR created_at > $11)
  AND ($12::timestamptz IS NULL OR created_at < $12)
  AND ($13::timestamptz IS NULL OR finished_at > $13)
  AND ($14::timestamptz IS NULL OR finished_at < $14)
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
