-- The sweep's recount (docs/regulation.md): every gate's `held` from the leases that hold it
-- (the counter's safety net: a job leased again after its lease expired, never ended, gave
-- nothing back). gate_forget.sql then forgets the gates nobody holds.
UPDATE spindle_gates SET held = 0 WHERE held > 0;
INSERT INTO spindle_gates (gate, held)
SELECT g.value, count(*)
FROM spindle_jobs j, json_each(j.gates) AS g
WHERE j.lease_expires_at IS NOT NULL AND j.gates IS NOT NULL
GROUP BY g.value
ON CONFLICT (gate) DO UPDATE SET held = excluded.held;
