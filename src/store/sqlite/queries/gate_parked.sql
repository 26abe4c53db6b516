-- How many of the gates in JSON array ?1 have jobs parked at them (docs/regulation.md).
SELECT count(*) FROM json_each(?1) AS g
WHERE EXISTS (SELECT 1 FROM spindle_jobs w WHERE w.gate_wait = g.value)
