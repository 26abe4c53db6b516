-- Every schedule, by name.
SELECT name, cron, zone, kind, args, queue, priority, max_attempts, timeout_ms, jitter_ms,
       overrun, catch_up, paused, last_slot, last_job_id, last_enqueued_at, created_at
FROM spindle.schedules
ORDER BY name
