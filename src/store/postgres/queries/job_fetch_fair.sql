-- job_fetch.sql in a fair queue (migration 018): within each priority, by the jobs' virtual start
-- times (jobs_fair_idx), so that its tenants take turns. The same parameters and filters. Jobs
-- without a time (enqueued while no worker had declared the queue fair) are left to
-- job_fetch.sql, which the store runs when this finds none.
WITH picked AS (
  SELECT id
  FROM spindle.jobs
  WHERE fair_vt IS NOT NULL
    AND
    -- include: job_fetchable.sql
  ORDER BY priority, fair_vt, run_at, id
  LIMIT $3
  FOR UPDATE SKIP LOCKED
)
UPDATE spindle.jobs j
SET
    -- include: job_leased.sql
FROM picked
WHERE j.id = picked.id
RETURNING
          -- include: job_fetched_columns.sql
