-- The regulated fetch in one statement (docs/regulation.md, "What it costs"), for limits whose
-- gates a job's kind alone decides: leases jobs as job_fetch.sql does (its parameters ?1 to ?9),
-- each holding the gates JSON object ?10 lists for its kind ({"kind": [gate, ...]}, a gate once
-- per unit). The store runs it only when every one of those gates has room for ?3 more jobs,
-- and then counts them in (gate_add.sql). Under the write lock, like every regulated fetch.
UPDATE spindle_jobs
SET gates = (SELECT g.value FROM json_each(?10) AS g WHERE g.key = spindle_jobs.kind),
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
