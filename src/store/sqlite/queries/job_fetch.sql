-- Leases up to ?3 due jobs of queue ?2 whose kind is in the JSON array ?6 to worker ?4 for ?5 ms.
-- ?1 = now. Partitioned dispatch: only ids in one of the partitions of JSON array ?8 (0-based)
-- of ?7 (0: every id), as PartitionOf computes it. ?9: only jobs due at least that many ms ago
-- (fallback scan).
-- Runs inside BEGIN IMMEDIATE: the write lock is what keeps two fetchers apart.
-- RETURNING does not keep the ORDER BY; the store sorts the batch.
UPDATE spindle_jobs
SET
    -- include: job_leased.sql
WHERE id IN (
  SELECT id
  FROM spindle_jobs
  WHERE
    -- include: job_fetchable.sql
  ORDER BY priority, run_at, id
  LIMIT ?3)
RETURNING
          -- include: job_fetched_columns.sql
