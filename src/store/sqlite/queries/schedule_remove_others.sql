-- Removes the schedules not named in ?1 (a JSON array of names).
DELETE FROM spindle_schedules WHERE name NOT IN (SELECT value FROM json_each(?1))
