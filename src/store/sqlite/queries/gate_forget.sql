-- Forgets the gates nobody holds (after gate_recount.sql), but for the rate gates whose windows
-- still hold starts at ?1 (until idle_at) or that hold parked jobs back (opens_at).
DELETE FROM spindle_gates WHERE held = 0 AND opens_at IS NULL AND coalesce(idle_at, 0) <= ?1
