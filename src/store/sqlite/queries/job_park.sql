-- Each job that is a key of JSON object ?1 waits for room at the gate its value names
-- (docs/regulation.md): out of the fetch's indexes until then.
UPDATE spindle_jobs SET gate_wait = json_extract(?1, '$."' || id || '"')
WHERE id IN (SELECT key FROM json_each(?1))
