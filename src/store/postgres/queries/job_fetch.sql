-- Leases up to $3 due jobs of queue $2 whose kind is one of $6 (the kinds worker $4 has
-- handlers for) to that worker for $5 ms. $1 = now (NULL: database clock).
-- Partitioned dispatch: only ids whose last 16 bits scaled to $7 partitions fall in one of the
-- partitions $8 (0-based; $7 = 0: every id). $9: only jobs due at least that many ms ago
-- (fallback scan).
-- SKIP LOCKED lets concurrent fetchers pass over each other's rows instead of waiting.
WITH picked AS (
  SELECT id
  FROM spindle.jobs
  WHERE
    -- include: job_fetchable.sql
  ORDER BY priority, run_at, id
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
