-- Retention (Store::JobPrune): deletes up to $6 jobs that finished longer ago than their state's
-- age ($2 completed, $3 failed, $4 cancelled, $5 expired, in ms; NULL: kept), with their history
-- (ON DELETE CASCADE), at $1 (NULL: the database's clock). Never a job with unfinished children
-- or an unfinished parent, as job_delete.sql. Each state is read from jobs_state_idx
-- (state, created_at): a job was created before it finished, so created_at < cutoff bounds the
-- range, and finished_at < cutoff picks from it. Returns how many were deleted.
WITH doomed AS (
  SELECT id FROM (
    (SELECT id FROM spindle.jobs j
     WHERE $2::bigint IS NOT NULL AND j.state = 'completed'
       AND j.created_at < coalesce($1, now()) - $2 * interval '1 millisecond'
       AND j.finished_at < coalesce($1, now()) - $2 * interval '1 millisecond'
       AND j.children_pending = 0
       AND NOT EXISTS (SELECT 1 FROM spindle.jobs p WHERE p.id = j.parent_id
                         AND p.state NOT IN ('completed', 'failed', 'cancelled', 'expired'))
     LIMIT $6)
    UNION ALL
    (SELECT id FROM spindle.jobs j
     WHERE $3::bigint IS NOT NULL AND j.state = 'failed'
       AND j.created_at < coalesce($1, now()) - $3 * interval '1 millisecond'
       AND j.finished_at < coalesce($1, now()) - $3 * interval '1 millisecond'
       AND j.children_pending = 0
       AND NOT EXISTS (SELECT 1 FROM spindle.jobs p WHERE p.id = j.parent_id
                         AND p.state NOT IN ('completed', 'failed', 'cancelled', 'expired'))
     LIMIT $6)
    UNION ALL
    (SELECT id FROM spindle.jobs j
     WHERE $4::bigint IS NOT NULL AND j.state = 'cancelled'
       AND j.created_at < coalesce($1, now()) - $4 * interval '1 millisecond'
       AND j.finished_at < coalesce($1, now()) - $4 * interval '1 millisecond'
       AND j.children_pending = 0
       AND NOT EXISTS (SELECT 1 FROM spindle.jobs p WHERE p.id = j.parent_id
                         AND p.state NOT IN ('completed', 'failed', 'cancelled', 'expired'))
     LIMIT $6)
    UNION ALL
    (SELECT id FROM spindle.jobs j
     WHERE $5::bigint IS NOT NULL AND j.state = 'expired'
       AND j.created_at < coalesce($1, now()) - $5 * interval '1 millisecond'
       AND j.finished_at < coalesce($1, now()) - $5 * interval '1 millisecond'
       AND j.children_pending = 0
       AND NOT EXISTS (SELECT 1 FROM spindle.jobs p WHERE p.id = j.parent_id
                         AND p.state NOT IN ('completed', 'failed', 'cancelled', 'expired'))
     LIMIT $6)
  ) AS old
  LIMIT $6
), deleted AS (
  -- A job retried meanwhile is no longer finished (or finished again later): checked again on
  -- the row as it is when locked.
  DELETE FROM spindle.jobs j
  WHERE j.id IN (SELECT id FROM doomed)
    AND j.finished_at < coalesce($1, now()) - interval '1 millisecond' *
        CASE j.state WHEN 'completed' THEN $2 WHEN 'failed' THEN $3
                     WHEN 'cancelled' THEN $4 WHEN 'expired' THEN $5 END
  RETURNING 1
)
SELECT count(*) FROM deleted
