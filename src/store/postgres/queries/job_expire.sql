-- Expires up to $2 waiting jobs at $1 (NULL: the database's clock) (docs/jobs.md, "Deadlines"):
-- those whose expires_at passed (jobs_expires_idx), and in queues that shed, those whose kind's
-- estimate no longer fits before their deadline (jobs_deadline_idx). Counts them in their kinds'
-- stats. Returns each job's id and why, for its history (job_expire_detail.sql).
WITH expiring AS (
  SELECT id, 'not started by its expires_at' AS why
  FROM spindle.jobs
  WHERE expires_at IS NOT NULL AND state IN ('scheduled', 'available', 'retryable')
    AND expires_at <= coalesce($1, now())
  ORDER BY expires_at
  LIMIT $2
  FOR UPDATE SKIP LOCKED
), shedding AS (
  SELECT j.id,
         CASE WHEN j.deadline <= coalesce($1, now()) THEN 'shed: its deadline passed'
              ELSE 'shed: it cannot finish by its deadline (its kind takes ' || s.estimate_ms ||
                   ' ms)' END AS why
  FROM spindle.queues q
  JOIN spindle.jobs j ON j.queue = q.name
  LEFT JOIN spindle.kind_stats s ON s.kind = j.kind
  WHERE q.shed AND j.deadline IS NOT NULL AND j.state IN ('scheduled', 'available', 'retryable')
    AND j.deadline < coalesce($1, now()) + coalesce(s.estimate_ms, 0) * interval '1 millisecond'
  LIMIT $2
  FOR UPDATE OF j SKIP LOCKED
), picked AS (
  SELECT DISTINCT ON (id) id, why
  FROM (SELECT * FROM expiring UNION ALL SELECT * FROM shedding) AS both_kinds
  LIMIT $2
), expired AS (
  UPDATE spindle.jobs j
  SET state = 'expired', finished_at = coalesce($1, now())
  FROM picked
  WHERE j.id = picked.id
  RETURNING j.id, j.kind, picked.why
), counted AS (
  INSERT INTO spindle.kind_stats AS s (kind, expired, updated_at)
  SELECT kind, count(*), coalesce($1, now()) FROM expired GROUP BY kind
  ON CONFLICT (kind) DO UPDATE SET expired = s.expired + excluded.expired
)
SELECT id, why FROM expired
