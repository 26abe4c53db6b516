-- The state of each of the gates $1 (docs/regulation.md): how many units leased jobs hold in it,
-- and its limit's capacity as recorded now (NULL: the limit is gone). Read under the advisory lock.
SELECT g.gate, coalesce(h.held, 0), l.capacity
FROM unnest($1::text[]) AS g(gate)
LEFT JOIN spindle.gates h ON h.gate = g.gate
LEFT JOIN spindle.limits l ON l.name = split_part(g.gate, '/', 1)
