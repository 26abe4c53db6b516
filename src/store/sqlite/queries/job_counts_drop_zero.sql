-- The counts of queues and states without jobs (migration 024), removed by the leader.
DELETE FROM spindle_job_counts WHERE n = 0
