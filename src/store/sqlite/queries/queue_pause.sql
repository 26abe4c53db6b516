-- Pauses queue ?2 (?3 = 1) at ?1, keeping an earlier pause time, or resumes it (?3 = 0);
-- idempotent.
INSERT INTO spindle_queues (name, paused_at) VALUES (?2, CASE WHEN ?3 THEN ?1 END)
ON CONFLICT (name) DO UPDATE SET paused_at = CASE WHEN ?3 THEN coalesce(paused_at, ?1) END
