-- One page of a bulk delete (Store::JobDeletePage): the jobs job_list.sql would list ($1 states,
-- $2 queue, $3 kind, $4 parent, $5 after, $6 limit), each deleted as job_delete.sql deletes one
-- if, once locked, it is still in one of $1 and may be deleted. Returns the page's last id
-- (NULL: empty page) and how many were deleted.
WITH page AS (
  SELECT id FROM spindle.jobs
  WHERE state = ANY ($1::spindle.job_state[])
    AND ($2::text IS NULL OR queue = $2)
    AND ($3::text IS NULL OR kind = $3)
    AND ($4::uuid IS NULL OR parent_id = $4)
    AND ($5::uuid IS NULL OR id < $5)
  ORDER BY id DESC
  LIMIT $6
), gone AS (
  DELETE FROM spindle.jobs j
  WHERE j.id IN (SELECT id FROM page) AND j.state = ANY ($1::spindle.job_state[])
    AND j.state IN ('completed', 'failed', 'cancelled', 'expired') AND j.children_pending = 0
    AND NOT EXISTS (SELECT 1 FROM spindle.jobs p
                    WHERE p.id = j.parent_id
                      AND p.state NOT IN ('completed', 'failed', 'cancelled', 'expired'))
  RETURNING j.id
)
SELECT (SELECT id FROM page ORDER BY id LIMIT 1)::text, (SELECT count(*) FROM gone)
