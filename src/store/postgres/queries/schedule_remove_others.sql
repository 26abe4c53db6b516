-- Removes the schedules not named in $1 (a JSON array of names).
DELETE FROM spindle.schedules
WHERE name NOT IN (SELECT jsonb_array_elements_text($1::jsonb))
