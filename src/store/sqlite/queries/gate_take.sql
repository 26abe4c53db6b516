-- Each job that is a key of JSON object ?1 counts in each gate its value lists
-- (docs/regulation.md).
INSERT INTO spindle_gates (gate, held)
SELECT g.value, count(*) FROM json_each(?1) AS j, json_each(j.value) AS g WHERE true
GROUP BY g.value
ON CONFLICT (gate) DO UPDATE SET held = held + excluded.held
