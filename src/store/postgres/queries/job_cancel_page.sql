-- One page of a bulk cancel (Store::JobCancelPage): the jobs job_list.sql would list ($2 states,
-- $3 queue, $4 kind, $5 parent, $6 after, $7 limit), each cancelled as job_cancel.sql cancels
-- one if, once locked (in id order), it is still in one of $2 and unfinished: a running job's
-- worker is told (spindle_control, once per worker) and its lease stays; unfinished children
-- are cancelled too (a trigger). Returns the page's last id (NULL: empty page) and how many
-- were cancelled.
WITH page AS (
  SELECT id FROM spindle.jobs
  WHERE state = ANY ($2::spindle.job_state[])
    AND ($3::text IS NULL OR queue = $3)
    AND ($4::text IS NULL OR kind = $4)
    AND ($5::uuid IS NULL OR parent_id = $5)
    AND ($6::uuid IS NULL OR id < $6)
  ORDER BY id DESC
  LIMIT $7
), old AS (
  SELECT id, state, lease_owner FROM spindle.jobs
  WHERE id IN (SELECT id FROM page) AND state = ANY ($2::spindle.job_state[])
    AND state IN ('scheduled', 'available', 'running', 'retryable', 'stopped', 'waiting')
  ORDER BY id
  FOR UPDATE
), changed AS (
  UPDATE spindle.jobs j
  SET state = 'cancelled', finished_at = coalesce($1, now())
  FROM old
  WHERE j.id = old.id
  RETURNING CASE WHEN old.state = 'running' THEN old.lease_owner END AS told
)
SELECT (SELECT id FROM page ORDER BY id LIMIT 1)::text,
       (SELECT count(*) FROM changed),
       -- Only running jobs have a worker to tell (pg_notify would send a NULL as '').
       (SELECT count(*) FROM (SELECT pg_notify('spindle_control', told)
                              FROM (SELECT DISTINCT told FROM changed WHERE told IS NOT NULL) w) n)
