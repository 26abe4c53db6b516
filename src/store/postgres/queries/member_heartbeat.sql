-- Worker $2 is alive and sees $3 partitions. No row: it is no longer a member.
UPDATE spindle.workers SET heartbeat_at = coalesce($1, now()), partition_count = $3
WHERE id = $2
RETURNING id
