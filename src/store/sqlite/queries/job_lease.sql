-- The regulated fetch's last step (docs/regulation.md): leases job ?2 to worker ?4 for ?5 ms as
-- job_fetch.sql does, holding gates ?3 (a JSON array, NULL: none). ?1 = now. Returns it as
-- job_fetch.sql does.
UPDATE spindle_jobs
SET gates = ?3,
    -- include: job_leased.sql
WHERE id = ?2
RETURNING
          -- include: job_fetched_columns.sql
