-- Job ?1 waits for room at gate ?2 (docs/regulation.md): out of the fetch's indexes until then.
UPDATE spindle_jobs SET gate_wait = ?2 WHERE id = ?1
