-- How many live leases hold each of the gates $2 (docs/regulation.md); gates nobody holds are
-- left out. $1 = now (NULL: the database's clock). A lease that expired no longer counts, even
-- before the rescuer ends it: its worker's commands were killed before it expired.
SELECT p.gate, count(*)
FROM spindle.permits p
JOIN spindle.jobs j ON j.id = p.job_id
WHERE p.gate = ANY ($2::text[])
  AND j.lease_expires_at > coalesce($1, now())
GROUP BY p.gate
