-- Every recorded limit, by name; with $1, how many jobs run under it now (live leases, $2 = now,
-- NULL: the database's clock), wait for it, and for how many of its key values.
WITH running AS (
  SELECT p.gate FROM spindle.permits p JOIN spindle.jobs j ON j.id = p.job_id
  WHERE $1 AND j.lease_expires_at > coalesce($2::timestamptz, now())
), waiting AS (
  SELECT gate_wait AS gate FROM spindle.jobs WHERE $1 AND gate_wait IS NOT NULL
), used AS (
  SELECT split_part(gate, '/', 1) AS name, count(*) AS running, 0 AS waiting, gate FROM running
  GROUP BY gate
  UNION ALL
  SELECT split_part(gate, '/', 1), 0, count(*), gate FROM waiting GROUP BY gate
)
SELECT l.name, l.capacity, l.queue, l.kind, l.key,
       coalesce(sum(u.running), 0), coalesce(sum(u.waiting), 0), count(DISTINCT u.gate)
FROM spindle.limits l
LEFT JOIN used u ON u.name = l.name
GROUP BY l.name, l.capacity, l.queue, l.kind, l.key
ORDER BY l.name
