-- How many leased jobs hold each of the gates $1 (docs/regulation.md); gates nobody holds are
-- left out. Read under the advisory lock.
SELECT gate, held FROM spindle.gates WHERE gate = ANY ($1::text[]) AND held > 0
