-- The removed members (JSON array ?1) give up their assignments.
DELETE FROM spindle_assignments WHERE owner IN (SELECT value FROM json_each(?1))
