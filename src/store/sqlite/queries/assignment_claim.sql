-- Member ?3 claims assignment ?2 at ?1 when nobody holds it or its holder is no longer a member.
-- Returns a row when ?3 holds it.
INSERT INTO spindle_assignments (name, owner, claimed_at)
SELECT ?2, ?3, ?1
WHERE EXISTS (SELECT 1 FROM spindle_workers w WHERE w.id = ?3)
ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, claimed_at = excluded.claimed_at
WHERE spindle_assignments.owner = excluded.owner
   OR NOT EXISTS (SELECT 1 FROM spindle_workers w WHERE w.id = spindle_assignments.owner)
RETURNING name
