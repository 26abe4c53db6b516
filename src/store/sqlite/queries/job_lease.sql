-- The regulated fetch's last step (docs/regulation.md): leases the jobs that are the keys of JSON
-- object ?3 to worker ?4 for ?5 ms as job_fetch.sql does, each holding the gates its value
-- lists (a JSON array, null: none). ?1 = now. Returns them as job_fetch.sql does.
UPDATE spindle_jobs
SET gates = json_extract(?3, '$."' || id || '"'),
    -- include: job_leased.sql
WHERE id IN (SELECT key FROM json_each(?3))
RETURNING
          -- include: job_fetched_columns.sql
