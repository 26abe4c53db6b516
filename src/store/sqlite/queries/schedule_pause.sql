-- Pauses (?3 = 1) or resumes schedule ?2; a resume moves last_slot to now (?1): the slots that
-- passed while it was paused are not caught up. No row: no such schedule.
UPDATE spindle_schedules
SET paused = ?3,
    last_slot = CASE WHEN paused AND NOT ?3 THEN max(last_slot, ?1) ELSE last_slot END,
    updated_at = ?1
WHERE name = ?2
RETURNING name
