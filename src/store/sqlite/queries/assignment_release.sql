-- Member ?2 gives up assignment ?1 (after stopping it).
DELETE FROM spindle_assignments WHERE name = ?1 AND owner = ?2
