-- The state of each of the gates $1 (docs/regulation.md): how many units leased jobs hold in it,
-- its limit's capacity as recorded now (NULL: the limit is gone), and for a rate limit its
-- window (ms) and the gate's log of starts; with the time now in ms ($2; NULL: the database's
-- clock). Read under the advisory lock.
SELECT g.gate, coalesce(h.held, 0), l.capacity, l.per_ms, coalesce(h.starts, ''),
       spindle.time_ms(coalesce($2::timestamptz, clock_timestamp()))
FROM unnest($1::text[]) AS g(gate)
LEFT JOIN spindle.gates h ON h.gate = g.gate
LEFT JOIN spindle.limits l ON l.name = split_part(g.gate, '/', 1)
