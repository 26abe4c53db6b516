-- Records when rate gate ?1 opens next (regulation::RateSteps::open): at ?2 if jobs stay parked
-- there, else never. Returns whether jobs stay.
INSERT INTO spindle_gates (gate, held, opens_at)
SELECT ?1, 0, CASE WHEN EXISTS (SELECT 1 FROM spindle_jobs w WHERE w.gate_wait = ?1) THEN ?2 END
WHERE true
ON CONFLICT (gate) DO UPDATE SET opens_at = excluded.opens_at
RETURNING EXISTS (SELECT 1 FROM spindle_jobs w WHERE w.gate_wait = ?1)
