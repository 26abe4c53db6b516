-- The first gate after ?1 (NULL: the first of all) with parked jobs (docs/regulation.md), one
-- index entry per gate: the sweep's walk.
SELECT min(gate_wait) FROM spindle_jobs WHERE gate_wait IS NOT NULL AND (?1 IS NULL OR gate_wait > ?1)
