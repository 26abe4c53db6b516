-- One page of a bulk retry (Store::JobRetryPage): the jobs job_list.sql would list ($2 states,
-- $3 queue, $4 kind, $5 parent, $6 after, $7 limit), each made available again as
-- job_retry.sql does if, once locked, it is still in one of $2 and finished; their queues'
-- workers are woken; of several with one unique key, only the newest, and none whose key another
-- job holds. Returns the page's last id (NULL: empty page) and how many were retried.
WITH page AS (
  SELECT id FROM spindle.jobs
  WHERE state = ANY ($2::spindle.job_state[])
    AND ($3::text IS NULL OR queue = $3)
    AND ($4::text IS NULL OR kind = $4)
    AND ($5::uuid IS NULL OR parent_id = $5)
    AND ($6::uuid IS NULL OR id < $6)
  ORDER BY id DESC
  LIMIT $7
), changed AS (
  UPDATE spindle.jobs
  SET state = 'available', run_at = coalesce($1, now()), finished_at = NULL,
      max_attempts = greatest(max_attempts, attempt + 1)
  WHERE id IN (SELECT id FROM page) AND state = ANY ($2::spindle.job_state[])
    AND state IN ('completed', 'failed', 'cancelled')
    -- Unique jobs (migration 014): not when another job holds the key, nor a second of one key.
    AND (unique_key IS NULL OR (
      NOT EXISTS (SELECT 1 FROM spindle.jobs o
                  WHERE o.unique_key = jobs.unique_key
                    AND coalesce(o.unique_bucket, '-infinity') =
                        coalesce(jobs.unique_bucket, '-infinity')
                    AND o.state = ANY (o.unique_states) AND o.id <> jobs.id)
      AND id = (SELECT max(p.id::text)::uuid FROM spindle.jobs p
                WHERE p.id IN (SELECT id FROM page) AND p.unique_key = jobs.unique_key
                  AND p.unique_bucket IS NOT DISTINCT FROM jobs.unique_bucket)))
  RETURNING queue
)
SELECT (SELECT id FROM page ORDER BY id LIMIT 1)::text,
       (SELECT count(*) FROM changed),
       (SELECT count(*) FROM (SELECT pg_notify('spindle_jobs', queue)
                              FROM (SELECT DISTINCT queue FROM changed) q) n)
