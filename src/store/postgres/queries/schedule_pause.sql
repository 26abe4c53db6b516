-- Pauses ($3 true) or resumes schedule $2. A resume moves last_slot to now: the slots that
-- passed while it was paused are not caught up. No row: no such schedule.
UPDATE spindle.schedules
SET paused = $3,
    last_slot = CASE WHEN paused AND NOT $3 THEN greatest(last_slot, coalesce($1, now()))
                     ELSE last_slot END,
    updated_at = coalesce($1, now())
WHERE name = $2
RETURNING name
