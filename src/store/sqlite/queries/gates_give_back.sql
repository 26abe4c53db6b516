-- Gives back the places of JSON object ?1 ({"gate": units}) that ended leases held: what a batch
-- of outcomes releases in one statement (JobFinishMany), as 019's trigger does for one lease.
UPDATE spindle_gates SET held = max(held - x.value, 0)
FROM json_each(?1) AS x
WHERE spindle_gates.gate = x.key
