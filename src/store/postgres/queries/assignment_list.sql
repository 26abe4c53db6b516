SELECT name, owner, claimed_at FROM spindle.assignments ORDER BY name COLLATE "C"
