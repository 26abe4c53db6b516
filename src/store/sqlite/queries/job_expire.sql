-- The waiting jobs to expire at ?1, at most ?2 (docs/jobs.md, "Deadlines"), as on PostgreSQL
-- (see its job_expire.sql): those whose expires_at passed, and in queues that shed, those whose
-- kind's estimate no longer fits before their deadline. Each with its kind and why.
SELECT id, kind, why FROM (
  SELECT * FROM (
    SELECT id, kind, 'not started by its expires_at' AS why
    FROM spindle_jobs
    WHERE expires_at IS NOT NULL AND state IN ('scheduled', 'available', 'retryable')
      AND expires_at <= ?1
    ORDER BY expires_at
    LIMIT ?2)
  UNION
  SELECT * FROM (
    SELECT j.id, j.kind,
           CASE WHEN j.deadline <= ?1 THEN 'shed: its deadline passed'
                ELSE 'shed: it cannot finish by its deadline (its kind takes ' || s.estimate_ms ||
                     ' ms)' END AS why
    FROM spindle_queues q
    JOIN spindle_jobs j ON j.queue = q.name
    LEFT JOIN spindle_kind_stats s ON s.kind = j.kind
    WHERE q.shed AND j.deadline IS NOT NULL
      AND j.state IN ('scheduled', 'available', 'retryable')
      AND j.deadline < ?1 + coalesce(s.estimate_ms, 0) * 1000
      AND NOT (j.expires_at IS NOT NULL AND j.expires_at <= ?1)
    LIMIT ?2))
LIMIT ?2
