-- Rate limits (docs/regulation.md, "Rate limits"), as on PostgreSQL (its 017_rates.sql says how):
-- a limit with `per_ms`; each rate gate's row keeps its log of starts, and when jobs are parked
-- there, the time the oldest start leaves the window (`opens_at`, µs like every time here).
ALTER TABLE spindle_limits ADD COLUMN per_ms INTEGER CHECK (per_ms BETWEEN 1 AND 2592000000);
ALTER TABLE spindle_gates ADD COLUMN starts TEXT;     -- [[ms, n], ...]
ALTER TABLE spindle_gates ADD COLUMN opens_at INTEGER;
ALTER TABLE spindle_gates ADD COLUMN idle_at INTEGER; -- its last start leaves the window then
CREATE INDEX spindle_gates_opens_idx ON spindle_gates (opens_at) WHERE opens_at IS NOT NULL;
