-- Forgets queue ?1 (its pause); the store checks first, in the same transaction, that it has no
-- jobs (queue_jobs.sql).
DELETE FROM spindle_queues WHERE name = ?1
