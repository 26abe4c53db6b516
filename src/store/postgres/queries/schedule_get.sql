-- What schedule $1's job needs (run-now), locking the row. No row: no such schedule.
SELECT kind, args, queue, priority, max_attempts, timeout_ms
FROM spindle.schedules
WHERE name = $1
FOR UPDATE
