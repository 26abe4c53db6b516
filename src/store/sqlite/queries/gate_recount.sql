-- The sweep's recount (docs/regulation.md): every gate's `held` from the leases that hold it
-- (the counter's safety net: a job leased again after its lease expired, never ended, gave
-- nothing back); gates nobody holds are forgotten.
DELETE FROM spindle_gates;
INSERT INTO spindle_gates (gate, held)
SELECT g.value, count(*)
FROM spindle_jobs j, json_each(j.gates) AS g
WHERE j.lease_expires_at IS NOT NULL AND j.gates IS NOT NULL
GROUP BY g.value;
