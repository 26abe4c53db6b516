-- The rate gates whose parked jobs may go now (docs/regulation.md, "Rate limits";
-- regulation::OpenRateGates): those whose opening time has come, and with $2 (the sweep) also
-- every one with parked jobs (a limit that grew lets more go at once). Each with its log of starts, its limit's capacity
-- and window, and the time now in ms ($1; NULL: the database's clock). Under the advisory lock.
SELECT h.gate, coalesce(h.starts, ''), l.capacity, l.per_ms,
       spindle.time_ms(coalesce($1::timestamptz, clock_timestamp()))
FROM spindle.gates h
JOIN spindle.limits l ON l.name = split_part(h.gate, '/', 1) AND l.per_ms IS NOT NULL
WHERE h.opens_at <= coalesce($1::timestamptz, clock_timestamp())
   OR ($2 AND EXISTS (SELECT 1 FROM spindle.jobs w WHERE w.gate_wait = h.gate))
