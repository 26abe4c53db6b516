-- Notes the gates of JSON object ?1 ({"gate": units}) that have parked jobs, to be opened before
-- the transaction's notices are taken (TakeNotices), as 019's trigger does for one lease.
INSERT OR IGNORE INTO spindle_gate_wakes (gate)
SELECT x.key FROM json_each(?1) AS x
WHERE EXISTS (SELECT 1 FROM spindle_jobs w WHERE w.gate_wait = x.key)
