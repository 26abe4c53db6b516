-- Lets go of as many of gate ?1's parked jobs, in line, as it has room for (all of them when no
-- limit is recorded for it any more; none for a rate limit, whose jobs go when their time comes,
-- regulation::OpenRateGates), or of ?2 of them when ?2 is not NULL: the fetch decides again
-- whether they start. Returns one row per job let go.
UPDATE spindle_jobs SET gate_wait = NULL
WHERE id IN (
  SELECT w.id FROM spindle_jobs w WHERE w.gate_wait = ?1
  ORDER BY w.priority, w.run_at, w.id
  LIMIT coalesce(?2,
                 max(0, (SELECT CASE WHEN l.per_ms IS NULL THEN l.capacity ELSE 0 END
                         FROM spindle_limits l
                         WHERE l.name = CASE WHEN instr(?1, '/') > 0
                                             THEN substr(?1, 1, instr(?1, '/') - 1) ELSE ?1 END)
                        - coalesce((SELECT h.held FROM spindle_gates h WHERE h.gate = ?1), 0)),
                 -1))
RETURNING queue
