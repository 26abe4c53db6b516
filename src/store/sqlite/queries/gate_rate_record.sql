-- Records the rate gates of JSON array ?1 (regulation::RateUpdate, each [gate, log of starts,
-- opening time or NULL to keep the recorded one, idle time], times in µs).
INSERT INTO spindle_gates (gate, held, starts, opens_at, idle_at)
SELECT value ->> 0, 0, value ->> 1, value ->> 2, value ->> 3 FROM json_each(?1) WHERE true
ON CONFLICT (gate) DO UPDATE
SET starts = excluded.starts, opens_at = coalesce(excluded.opens_at, opens_at),
    idle_at = excluded.idle_at
