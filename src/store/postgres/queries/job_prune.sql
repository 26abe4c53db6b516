-- Retention (Store::JobPruneState): deletes up to $4 jobs in final state $2 that finished more
-- than $3 ms before $1 (NULL: the database's clock), with their history (ON DELETE CASCADE).
-- Never a job with unfinished children or an unfinished parent, as job_delete.sql. Read from
-- jobs_state_idx (state, created_at): a job was created before it finished, so created_at <
-- cutoff bounds the range, and finished_at < cutoff picks from it. Returns how many were deleted.
WITH doomed AS (
  SELECT id FROM spindle.jobs j
  WHERE j.state = $2::spindle.job_state
    AND j.created_at < coalesce($1, now()) - $3 * interval '1 millisecond'
    AND j.finished_at < coalesce($1, now()) - $3 * interval '1 millisecond'
    AND j.children_pending = 0
    AND NOT EXISTS (SELECT 1 FROM spindle.jobs p WHERE p.id = j.parent_id
                      AND p.state NOT IN ('completed', 'failed', 'cancelled', 'expired'))
  LIMIT $4
), deleted AS (
  -- A job retried meanwhile is no longer finished (or finished again later): checked again on
  -- the row as it is when locked.
  DELETE FROM spindle.jobs j
  WHERE j.id IN (SELECT id FROM doomed) AND j.state = $2::spindle.job_state
    AND j.finished_at < coalesce($1, now()) - $3 * interval '1 millisecond'
  RETURNING 1
)
SELECT count(*) FROM deleted
