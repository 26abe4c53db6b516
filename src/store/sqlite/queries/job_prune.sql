-- Retention (Store::JobPrune): the ids of up to ?6 jobs that finished longer ago than their
-- state's age at ?1 (?2 completed, ?3 failed, ?4 cancelled, ?5 expired, in ms; NULL: kept), as
-- PostgreSQL's job_prune.sql picks them (from spindle_jobs_state_idx). The store deletes them
-- and their history in the same transaction.
SELECT id FROM (
SELECT id FROM (
  SELECT id FROM spindle_jobs j
  WHERE ?2 IS NOT NULL AND j.state = 'completed' AND j.created_at < ?1 - ?2 * 1000
    AND j.finished_at < ?1 - ?2 * 1000 AND j.children_pending = 0
    AND NOT EXISTS (SELECT 1 FROM spindle_jobs p WHERE p.id = j.parent_id
                      AND p.state NOT IN ('completed', 'failed', 'cancelled', 'expired'))
  LIMIT ?6)
UNION ALL
SELECT id FROM (
  SELECT id FROM spindle_jobs j
  WHERE ?3 IS NOT NULL AND j.state = 'failed' AND j.created_at < ?1 - ?3 * 1000
    AND j.finished_at < ?1 - ?3 * 1000 AND j.children_pending = 0
    AND NOT EXISTS (SELECT 1 FROM spindle_jobs p WHERE p.id = j.parent_id
                      AND p.state NOT IN ('completed', 'failed', 'cancelled', 'expired'))
  LIMIT ?6)
UNION ALL
SELECT id FROM (
  SELECT id FROM spindle_jobs j
  WHERE ?4 IS NOT NULL AND j.state = 'cancelled' AND j.created_at < ?1 - ?4 * 1000
    AND j.finished_at < ?1 - ?4 * 1000 AND j.children_pending = 0
    AND NOT EXISTS (SELECT 1 FROM spindle_jobs p WHERE p.id = j.parent_id
                      AND p.state NOT IN ('completed', 'failed', 'cancelled', 'expired'))
  LIMIT ?6)
UNION ALL
SELECT id FROM (
  SELECT id FROM spindle_jobs j
  WHERE ?5 IS NOT NULL AND j.state = 'expired' AND j.created_at < ?1 - ?5 * 1000
    AND j.finished_at < ?1 - ?5 * 1000 AND j.children_pending = 0
    AND NOT EXISTS (SELECT 1 FROM spindle_jobs p WHERE p.id = j.parent_id
                      AND p.state NOT IN ('completed', 'failed', 'cancelled', 'expired'))
  LIMIT ?6)
)
LIMIT ?6
