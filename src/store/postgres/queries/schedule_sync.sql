-- Declares schedules ($2: a JSON array of them, as ScheduleRow makes them): new ones start with
-- last_slot = now (no slot before their declaration fires); existing ones take the new
-- definition and keep their state (paused, last_slot, last job).
INSERT INTO spindle.schedules AS s (name, cron, zone, kind, args, queue, priority, max_attempts,
                                    timeout_ms, jitter_ms, overrun, catch_up, last_slot,
                                    created_at, updated_at)
SELECT d.name, d.cron, d.zone, d.kind, d.args, d.queue, d.priority, d.max_attempts, d.timeout_ms,
       d.jitter_ms, d.overrun, d.catch_up, coalesce($1, now()), coalesce($1, now()),
       coalesce($1, now())
FROM jsonb_to_recordset($2::jsonb) AS d(name text, cron text, zone text, kind text, args jsonb,
                                        queue text, priority integer, max_attempts integer,
                                        timeout_ms bigint, jitter_ms bigint, overrun text,
                                        catch_up text)
ON CONFLICT (name) DO UPDATE
SET cron = EXCLUDED.cron, zone = EXCLUDED.zone, kind = EXCLUDED.kind, args = EXCLUDED.args,
    queue = EXCLUDED.queue, priority = EXCLUDED.priority, max_attempts = EXCLUDED.max_attempts,
    timeout_ms = EXCLUDED.timeout_ms, jitter_ms = EXCLUDED.jitter_ms,
    overrun = EXCLUDED.overrun, catch_up = EXCLUDED.catch_up, updated_at = EXCLUDED.updated_at
