-- What schedule ?1's job needs (run-now). No row: no such schedule.
SELECT kind, args, queue, priority, max_attempts, timeout_ms
FROM spindle_schedules
WHERE name = ?1
