-- Member $3 claims assignment $2 when nobody holds it or its holder is no longer a member.
-- Returns a row when $3 holds it.
INSERT INTO spindle.assignments AS a (name, owner, claimed_at)
SELECT $2, $3, coalesce($1, now())
WHERE EXISTS (SELECT 1 FROM spindle.workers w WHERE w.id = $3)
ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, claimed_at = excluded.claimed_at
WHERE a.owner = excluded.owner
   OR NOT EXISTS (SELECT 1 FROM spindle.workers w WHERE w.id = a.owner)
RETURNING a.name
