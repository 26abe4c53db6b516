-- The rate gates whose parked jobs may go at ?1 (docs/regulation.md, "Rate limits";
-- regulation::OpenRateGates): those whose opening time has come, and with ?2 (the sweep) also
-- every one with parked jobs (a limit that grew lets more go at once); each with its log of starts and its limit's
-- capacity and window.
SELECT h.gate, coalesce(h.starts, ''), l.capacity, l.per_ms
FROM spindle_gates h
JOIN spindle_limits l
  ON l.name = CASE WHEN instr(h.gate, '/') > 0 THEN substr(h.gate, 1, instr(h.gate, '/') - 1)
                   ELSE h.gate END
 AND l.per_ms IS NOT NULL
WHERE h.opens_at <= ?1
   OR (?2 AND EXISTS (SELECT 1 FROM spindle_jobs w WHERE w.gate_wait = h.gate))
