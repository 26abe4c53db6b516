-- Every recorded limit, by name; with $1, how many jobs (a pool: units) hold it now (`gates.held`), wait for it,
-- and for how many of its key values.
WITH waiting AS (
  SELECT gate_wait AS gate, count(*) AS n FROM spindle.jobs
  WHERE $1 AND gate_wait IS NOT NULL GROUP BY gate_wait
), used AS (
  SELECT coalesce(h.gate, w.gate) AS gate, coalesce(h.held, 0) AS running, coalesce(w.n, 0) AS waiting
  FROM (SELECT * FROM spindle.gates WHERE $1 AND held > 0) h
  FULL JOIN waiting w ON w.gate = h.gate
)
SELECT l.name, l.capacity, l.queue, l.kind, l.key,
       coalesce(sum(u.running), 0), coalesce(sum(u.waiting), 0), count(u.gate), l.units
FROM spindle.limits l
LEFT JOIN used u ON split_part(u.gate, '/', 1) = l.name
GROUP BY l.name, l.capacity, l.queue, l.kind, l.key, l.units
ORDER BY l.name
