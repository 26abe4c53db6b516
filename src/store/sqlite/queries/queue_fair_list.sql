-- The queues whose workers declared them fair (queue_register.sql).
SELECT name FROM spindle_queues WHERE fair_key IS NOT NULL
