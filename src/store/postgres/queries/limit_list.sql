-- Every recorded limit, by name; with $1, how many jobs (a pool: units) hold it now (`gates.held`), wait for it,
-- and for how many of its key values (a rate limit's: those with starts in their windows too,
-- whose logs the store counts), with the logs of its gates' starts.
WITH waiting AS (
  SELECT gate_wait AS gate, count(*) AS n FROM spindle.jobs
  WHERE $1 AND gate_wait IS NOT NULL GROUP BY gate_wait
), used AS (
  SELECT coalesce(h.gate, w.gate) AS gate, coalesce(h.held, 0) AS running, coalesce(w.n, 0) AS waiting,
         h.starts
  FROM (SELECT * FROM spindle.gates WHERE $1 AND (held > 0 OR idle_at > clock_timestamp())) h
  FULL JOIN waiting w ON w.gate = h.gate
)
SELECT l.name, l.capacity, l.queue, l.kind, l.key,
       coalesce(sum(u.running), 0), coalesce(sum(u.waiting), 0), count(u.gate), l.units, l.per_ms,
       CASE WHEN l.per_ms IS NOT NULL THEN jsonb_agg(u.starts) FILTER (WHERE u.starts IS NOT NULL) END
FROM spindle.limits l
LEFT JOIN used u ON split_part(u.gate, '/', 1) = l.name
GROUP BY l.name, l.capacity, l.queue, l.kind, l.key, l.units, l.per_ms
ORDER BY l.name
