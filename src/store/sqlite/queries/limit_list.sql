-- Every recorded limit, by name; with ?1, how many jobs run under it now (live leases, ?2 =
-- now), wait for it, and for how many of its key values.
WITH running AS (
  SELECT p.gate FROM spindle_permits p JOIN spindle_jobs j ON j.id = p.job_id
  WHERE ?1 AND j.lease_expires_at > ?2
), waiting AS (
  SELECT gate_wait AS gate FROM spindle_jobs WHERE ?1 AND gate_wait IS NOT NULL
), used AS (
  SELECT gate, count(*) AS running, 0 AS waiting FROM running GROUP BY gate
  UNION ALL
  SELECT gate, 0, count(*) FROM waiting GROUP BY gate
), named AS (
  SELECT CASE WHEN instr(gate, '/') > 0 THEN substr(gate, 1, instr(gate, '/') - 1) ELSE gate END
           AS name, gate, running, waiting
  FROM used
)
SELECT l.name, l.capacity, l.queue, l.kind, l.key,
       coalesce(sum(u.running), 0), coalesce(sum(u.waiting), 0), count(DISTINCT u.gate)
FROM spindle_limits l
LEFT JOIN named u ON u.name = l.name
GROUP BY l.name
ORDER BY l.name
