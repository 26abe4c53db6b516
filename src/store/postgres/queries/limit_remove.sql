-- Removes limit $1 (docs/regulation.md); no row: there is none of that name.
DELETE FROM spindle.limits WHERE name = $1 RETURNING name
