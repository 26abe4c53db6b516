-- The regulated fetch's last step (docs/regulation.md): leases jobs $2 (locked by
-- job_fetch_candidates.sql) to worker $3 for $4 ms, each with a permit for each of its gates $5
-- (a JSON array, NULL: none), and parks jobs $6 at their full gates $7. $1 = now (NULL: the
-- database's clock). Returns the leased jobs as job_fetch.sql does.
WITH t AS (
  SELECT * FROM unnest($2::uuid[], $5::jsonb[]) AS t(id, gates)
), taken AS (
  INSERT INTO spindle.permits (job_id, gate)
  SELECT t.id, g.gate FROM t, jsonb_array_elements_text(t.gates) AS g(gate)
  ON CONFLICT DO NOTHING
), parked AS (
  UPDATE spindle.jobs j SET gate_wait = w.gate
  FROM unnest($6::uuid[], $7::text[]) AS w(id, gate)
  WHERE j.id = w.id
)
UPDATE spindle.jobs j
SET state = 'running',
    attempt = j.attempt + 1,
    attempts_used = j.attempts_used + 1,
    started_at = coalesce($1, now()),
    lease_owner = $3,
    lease_expires_at = coalesce($1, now()) + $4 * interval '1 millisecond',
    gates = t.gates
FROM t
WHERE j.id = t.id
RETURNING j.id, j.kind, j.queue, j.args, j.priority, j.run_at, j.state, j.attempt,
          j.max_attempts, j.timeout_ms, '[]'::jsonb, j.created_at, j.started_at, j.finished_at,
          j.lease_owner, j.lease_expires_at, j.step, j.checkpoint,
          j.parent_id, j.children_total, j.children_pending, j.progress,
          j.result, j.attempts_used, j.serial_key, j.serial_held,
          j.deadline, j.expires_at
