-- Retention (Store::JobPruneState): the ids of up to ?4 jobs in final state ?2 that finished
-- more than ?3 ms before ?1, as PostgreSQL's job_prune.sql picks them (from
-- spindle_jobs_state_idx). The store deletes them and their history in the same transaction.
SELECT id FROM spindle_jobs j
WHERE j.state = ?2 AND j.created_at < ?1 - ?3 * 1000
  AND j.finished_at < ?1 - ?3 * 1000 AND j.children_pending = 0
  AND NOT EXISTS (SELECT 1 FROM spindle_jobs p WHERE p.id = j.parent_id
                    AND p.state NOT IN ('completed', 'failed', 'cancelled', 'expired'))
LIMIT ?4
