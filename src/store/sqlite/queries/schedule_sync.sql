-- Declares schedules (?2: a JSON array), as PostgreSQL's schedule_sync.sql. ?1 = now.
INSERT INTO spindle_schedules (name, cron, zone, kind, args, queue, priority, max_attempts,
                               timeout_ms, jitter_ms, overrun, catch_up, last_slot, created_at,
                               updated_at)
SELECT value ->> 'name', value ->> 'cron', value ->> 'zone', value ->> 'kind',
       json(value -> 'args'), value ->> 'queue', value ->> 'priority', value ->> 'max_attempts',
       value ->> 'timeout_ms', value ->> 'jitter_ms', value ->> 'overrun',
       value ->> 'catch_up', ?1, ?1, ?1
FROM json_each(?2) WHERE true
ON CONFLICT (name) DO UPDATE
SET cron = excluded.cron, zone = excluded.zone, kind = excluded.kind, args = excluded.args,
    queue = excluded.queue, priority = excluded.priority, max_attempts = excluded.max_attempts,
    timeout_ms = excluded.timeout_ms, jitter_ms = excluded.jitter_ms,
    overrun = excluded.overrun, catch_up = excluded.catch_up, updated_at = excluded.updated_at
