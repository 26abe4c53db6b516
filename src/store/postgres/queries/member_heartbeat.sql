-- Worker $2 is alive and sees $3 partitions, and runs its queues' jobs at the concurrency $4
-- (NULL: as registered). No row: it is no longer a member.
UPDATE spindle.workers
SET heartbeat_at = coalesce($1, now()), partition_count = $3,
    concurrency = coalesce($4::jsonb, concurrency)
WHERE id = $2
RETURNING id
