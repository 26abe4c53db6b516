-- Every recorded limit, by name; with ?1, how many jobs (a pool: units) hold it now (`held`), wait for it, and
-- for how many of its key values (a rate limit's: those with starts in their windows too, whose
-- logs the store counts), with the logs of its gates' starts. ?2 = now.
WITH used AS (
  SELECT gate, held AS running, 0 AS waiting, starts FROM spindle_gates
  WHERE ?1 AND (held > 0 OR idle_at > ?2)
  UNION ALL
  SELECT gate_wait, 0, count(*), NULL FROM spindle_jobs WHERE ?1 AND gate_wait IS NOT NULL
  GROUP BY gate_wait
), named AS (
  SELECT CASE WHEN instr(gate, '/') > 0 THEN substr(gate, 1, instr(gate, '/') - 1) ELSE gate END
           AS name, gate, running, waiting, starts
  FROM used
)
SELECT l.name, l.capacity, l.queue, l.kind, l.key,
       coalesce(sum(u.running), 0), coalesce(sum(u.waiting), 0), count(DISTINCT u.gate), l.units,
       l.per_ms,
       CASE WHEN l.per_ms IS NOT NULL THEN json_group_array(u.starts) FILTER (WHERE u.starts IS NOT NULL) END
FROM spindle_limits l
LEFT JOIN named u ON u.name = l.name
GROUP BY l.name
ORDER BY l.name
