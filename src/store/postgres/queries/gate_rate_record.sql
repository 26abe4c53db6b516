-- Records rate gates $1 with their logs of starts $2, opening times $3 (ms; NULL: keep the
-- recorded one) and idle times $4 (ms): regulation::RateUpdate, after the lease. Under the
-- advisory lock.
INSERT INTO spindle.gates AS h (gate, held, starts, opens_at, idle_at)
SELECT r.gate, 0, r.starts, spindle.ms_time(r.opens_ms), spindle.ms_time(r.idle_ms)
FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[]) AS r(gate, starts, opens_ms, idle_ms)
ON CONFLICT (gate) DO UPDATE
SET starts = excluded.starts, opens_at = coalesce(excluded.opens_at, h.opens_at),
    idle_at = excluded.idle_at
