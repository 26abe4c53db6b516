-- Removes the recorded limits not named in JSON array ?1 that apply only to the queues of JSON
-- array ?2 or the kinds of ?3, or to every job: those a starting worker no longer declares.
DELETE FROM spindle_limits
WHERE name NOT IN (SELECT value FROM json_each(?1))
  AND ((queue IS NULL AND kind IS NULL) OR queue IN (SELECT value FROM json_each(?2))
       OR kind IN (SELECT value FROM json_each(?3)))
