-- Attempt-scoped leases and worker incarnations (issue 10), as PostgreSQL's 008_attempts.sql.
--
-- A job taken from a running worker (stopped, cancelled, the cluster stopped) now keeps that
-- attempt's lease while the attempt's process may still be alive, and is not fetched until the
-- lease ends (job_fetch.sql). A cancelled parent's running descendants keep theirs too: the
-- trigger of 006_children.sql, recreated without clearing the leases.
DROP TRIGGER spindle_jobs_parent_cancelled;
CREATE TRIGGER spindle_jobs_parent_cancelled AFTER UPDATE OF state ON spindle_jobs
WHEN NEW.state = 'cancelled' AND OLD.state <> 'cancelled'
BEGIN
  UPDATE spindle_jobs
  SET state = 'cancelled', finished_at = NEW.finished_at
  WHERE id IN (
    WITH RECURSIVE unfinished (id) AS (
      SELECT id FROM spindle_jobs
      WHERE parent_id = NEW.id AND state NOT IN ('completed', 'failed', 'cancelled', 'expired')
      UNION ALL
      SELECT j.id FROM spindle_jobs j JOIN unfinished u ON j.parent_id = u.id
      WHERE j.state NOT IN ('completed', 'failed', 'cancelled', 'expired'))
    SELECT id FROM unfinished);
END;

-- Each worker process makes a random token when it starts: a second process registering with a
-- live worker's id (another incarnation) is refused instead of sharing its row.
ALTER TABLE spindle_workers ADD COLUMN incarnation TEXT NOT NULL DEFAULT '';
