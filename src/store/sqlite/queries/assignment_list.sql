SELECT name, owner, claimed_at FROM spindle_assignments ORDER BY name
