-- After a fold (job_counts_fold.sql): the counts of queues and states without jobs.
DELETE FROM spindle.job_counts WHERE n = 0
