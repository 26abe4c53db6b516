-- Every kind with recorded defaults, by name.
SELECT kind, queue, priority, max_attempts, timeout_ms, worker, registered_at, serial
FROM spindle_kinds
ORDER BY kind
