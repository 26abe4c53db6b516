-- Forgets the gates nobody holds (after gate_recount.sql), but for the rate gates whose windows
-- still hold starts at ?1 (until idle_at) or that hold parked jobs back.
DELETE FROM spindle_gates
WHERE held = 0 AND coalesce(idle_at, 0) <= ?1
  AND NOT EXISTS (SELECT 1 FROM spindle_jobs w WHERE w.gate_wait = spindle_gates.gate)
