-- The state of each of the gates in JSON array ?1 (docs/regulation.md): how many units leased
-- jobs hold in it, its limit's capacity as recorded now (NULL: the limit is gone), and for a rate
-- limit its window (ms) and the gate's log of starts.
SELECT g.value, coalesce(h.held, 0), l.capacity, l.per_ms, coalesce(h.starts, '')
FROM json_each(?1) AS g
LEFT JOIN spindle_gates h ON h.gate = g.value
LEFT JOIN spindle_limits l
  ON l.name = CASE WHEN instr(g.value, '/') > 0 THEN substr(g.value, 1, instr(g.value, '/') - 1)
                   ELSE g.value END
