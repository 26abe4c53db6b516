-- The regulated fetch in one statement (docs/regulation.md, "What it costs"), for limits whose
-- gates a job's kind alone decides (no key, no rate): leases up to $3 jobs as job_fetch.sql does
-- (its parameters $1 to $9), each counting in the gates of its kind ($10: for each of the kinds
-- $6, its gates, a JSON array with a gate once per unit; NULL: none), but only when every one of
-- those gates has room for $3 more jobs of any of the kinds, so that whichever jobs are taken,
-- none is one too many. Otherwise (or when no job is due) it leases nothing, and the store
-- decides job by job (job_fetch_candidates.sql). Under the advisory lock, taken in a statement
-- before this.
WITH k AS (
  SELECT * FROM unnest($6::text[], $10::jsonb[]) AS k(kind, gates)
), need AS (
  -- The most units of each gate that a job of these kinds takes.
  SELECT u.gate, max(u.n) AS n
  FROM (SELECT k.kind, g.gate, count(*) AS n
        FROM k, jsonb_array_elements_text(k.gates) AS g(gate) GROUP BY k.kind, g.gate) u
  GROUP BY u.gate
), room AS (
  -- Room for all, as the limits are recorded now (one recorded since as a rate: no), and no job
  -- parked at any of the gates, which would be overtaken.
  SELECT coalesce(bool_and((l.capacity IS NULL OR held + $3 * n <= l.capacity)
                           AND l.per_ms IS NULL AND NOT waiting), true) AS ok
  FROM (SELECT need.gate, need.n,
               coalesce((SELECT h.held FROM spindle.gates h WHERE h.gate = need.gate), 0) AS held,
               EXISTS (SELECT 1 FROM spindle.jobs w WHERE w.gate_wait = need.gate) AS waiting
        FROM need) r
  LEFT JOIN spindle.limits l ON l.name = split_part(r.gate, '/', 1)
), picked AS (
  SELECT id
  FROM spindle.jobs
  WHERE
    -- include: job_fetchable.sql
    AND (SELECT ok FROM room)
  ORDER BY priority, run_at, id
  LIMIT $3
  FOR UPDATE SKIP LOCKED
), leased AS (
  UPDATE spindle.jobs j
  SET gates = k.gates,
    -- include: job_leased.sql
  FROM picked, k
  WHERE j.id = picked.id AND k.kind = j.kind
  RETURNING
          -- include: job_fetched_columns.sql
), taken AS (
  INSERT INTO spindle.gates AS h (gate, held)
  SELECT g.gate, sum(c.n)
  FROM (SELECT leased.kind, count(*) AS n FROM leased GROUP BY leased.kind) c
  JOIN k ON k.kind = c.kind, jsonb_array_elements_text(k.gates) AS g(gate)
  GROUP BY g.gate
  ON CONFLICT (gate) DO UPDATE SET held = h.held + excluded.held
)
SELECT * FROM leased
