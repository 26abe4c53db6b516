-- Adds to each gate's count the units of JSON object ?1 ({"gate": units}) (docs/regulation.md):
-- what the jobs a fetch leased in one statement hold (job_fetch_within.sql).
INSERT INTO spindle_gates (gate, held)
SELECT key, value FROM json_each(?1) WHERE true
ON CONFLICT (gate) DO UPDATE SET held = held + excluded.held
