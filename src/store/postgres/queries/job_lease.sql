-- The regulated fetch's last step (docs/regulation.md): leases jobs $2 (locked by
-- job_fetch_candidates.sql) to worker $4 for $5 ms as job_fetch.sql does, each counting in each
-- of its gates $3 (a JSON array, NULL: none), parks jobs $6 at their full gates $7, and records
-- rate gates $8 with their logs of starts $9, opening times $10 (ms; NULL: keep) and idle times
-- $11 (ms; regulation::RateUpdate). $1 = now (NULL: the database's clock). Returns the leased
-- jobs as job_fetch.sql does.
WITH t AS (
  SELECT * FROM unnest($2::uuid[], $3::jsonb[]) AS t(id, gates)
), taken AS (
  INSERT INTO spindle.gates AS h (gate, held)
  SELECT g.gate, count(*) FROM t, jsonb_array_elements_text(t.gates) AS g(gate) GROUP BY g.gate
  ON CONFLICT (gate) DO UPDATE SET held = h.held + excluded.held
), rated AS (
  INSERT INTO spindle.gates AS h (gate, held, starts, opens_at, idle_at)
  SELECT r.gate, 0, r.starts, spindle.ms_time(r.opens_ms), spindle.ms_time(r.idle_ms)
  FROM unnest($8::text[], $9::text[], $10::bigint[], $11::bigint[]) AS r(gate, starts, opens_ms, idle_ms)
  ON CONFLICT (gate) DO UPDATE
  SET starts = excluded.starts, opens_at = coalesce(excluded.opens_at, h.opens_at),
      idle_at = excluded.idle_at
), parked AS (
  UPDATE spindle.jobs j SET gate_wait = w.gate
  FROM unnest($6::uuid[], $7::text[]) AS w(id, gate)
  WHERE j.id = w.id
)
UPDATE spindle.jobs j
SET gates = t.gates,
    -- include: job_leased.sql
FROM t
WHERE j.id = t.id
RETURNING
          -- include: job_fetched_columns.sql
