-- The regulated fetch's first step (docs/regulation.md): up to $3 of the jobs job_fetch.sql
-- would take, with its parameters and in its order, locked for this transaction but not leased:
-- the store decides which of them start (job_lease.sql). $4 and $5, job_fetch.sql's lease, are
-- not used here; they are named so that the two statements take the same parameters.
SELECT id, kind, args
FROM spindle.jobs
WHERE
  -- include: job_fetchable.sql
  AND $4::text IS NOT NULL AND $5::bigint IS NOT NULL
ORDER BY priority, run_at, id
LIMIT $3
FOR UPDATE SKIP LOCKED
