-- Every recorded limit, by name; with ?1, how many jobs (a pool: units) hold it now (`held`), wait for it, and
-- for how many of its key values.
WITH used AS (
  SELECT gate, held AS running, 0 AS waiting FROM spindle_gates WHERE ?1 AND held > 0
  UNION ALL
  SELECT gate_wait, 0, count(*) FROM spindle_jobs WHERE ?1 AND gate_wait IS NOT NULL
  GROUP BY gate_wait
), named AS (
  SELECT CASE WHEN instr(gate, '/') > 0 THEN substr(gate, 1, instr(gate, '/') - 1) ELSE gate END
           AS name, gate, running, waiting
  FROM used
)
SELECT l.name, l.capacity, l.queue, l.kind, l.key,
       coalesce(sum(u.running), 0), coalesce(sum(u.waiting), 0), count(DISTINCT u.gate), l.units
FROM spindle_limits l
LEFT JOIN named u ON u.name = l.name
GROUP BY l.name
ORDER BY l.name
