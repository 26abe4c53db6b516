-- How many leased jobs hold each of the gates in JSON array ?1 (docs/regulation.md); gates
-- nobody holds are left out.
SELECT gate, held FROM spindle_gates WHERE gate IN (SELECT value FROM json_each(?1)) AND held > 0
