-- Worker ?2 is alive at ?1 and sees ?3 partitions, and runs its queues' jobs at the concurrency
-- ?4 (NULL: as registered). No row changed: it is no longer a member.
UPDATE spindle_workers
SET heartbeat_at = ?1, partition_count = ?3, concurrency = coalesce(?4, concurrency)
WHERE id = ?2
