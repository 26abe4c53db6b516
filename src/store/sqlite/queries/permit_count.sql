-- How many live leases hold each of the gates in JSON array ?2 (docs/regulation.md); gates
-- nobody holds are left out. ?1 = now: a lease that expired no longer counts.
SELECT p.gate, count(*)
FROM spindle_permits p
JOIN spindle_jobs j ON j.id = p.job_id
WHERE p.gate IN (SELECT value FROM json_each(?2))
  AND j.lease_expires_at > ?1
GROUP BY p.gate
