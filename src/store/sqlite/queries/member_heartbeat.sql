-- Worker ?2 is alive at ?1 and sees ?3 partitions. No row changed: it is no longer a member.
UPDATE spindle_workers SET heartbeat_at = ?1, partition_count = ?3
WHERE id = ?2
