-- The regulated fetch's last step (docs/regulation.md): leases jobs $2 (locked by
-- job_fetch_candidates.sql) to worker $4 for $5 ms as job_fetch.sql does, each counting in each
-- of its gates $3 (a JSON array, NULL: none), and parks jobs $6 at their full gates $7.
-- $1 = now (NULL: the database's clock). Returns the leased jobs as job_fetch.sql does.
WITH t AS (
  SELECT * FROM unnest($2::uuid[], $3::jsonb[]) AS t(id, gates)
), taken AS (
  INSERT INTO spindle.gates AS h (gate, held)
  SELECT g.gate, count(*) FROM t, jsonb_array_elements_text(t.gates) AS g(gate) GROUP BY g.gate
  ON CONFLICT (gate) DO UPDATE SET held = h.held + excluded.held
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
