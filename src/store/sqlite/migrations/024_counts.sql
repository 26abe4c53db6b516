-- As on PostgreSQL (see its 024_counts.sql), but with row triggers that update the counts
-- themselves: SQLite has one writer at a time, so there is no counter row to wait for and
-- nothing to fold. Counts that reach zero stay, and queue_list.sql reads past them.
CREATE TABLE spindle_job_counts (
  queue TEXT NOT NULL,
  state TEXT NOT NULL,
  n     INTEGER NOT NULL,
  PRIMARY KEY (queue, state)
) WITHOUT ROWID;

CREATE TRIGGER spindle_jobs_counted_insert AFTER INSERT ON spindle_jobs BEGIN
  INSERT INTO spindle_job_counts (queue, state, n) VALUES (new.queue, new.state, 1)
  ON CONFLICT (queue, state) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER spindle_jobs_counted_update AFTER UPDATE OF queue, state ON spindle_jobs
WHEN new.queue IS NOT old.queue OR new.state IS NOT old.state BEGIN
  UPDATE spindle_job_counts SET n = n - 1 WHERE queue = old.queue AND state = old.state;
  INSERT INTO spindle_job_counts (queue, state, n) VALUES (new.queue, new.state, 1)
  ON CONFLICT (queue, state) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER spindle_jobs_counted_delete AFTER DELETE ON spindle_jobs BEGIN
  UPDATE spindle_job_counts SET n = n - 1 WHERE queue = old.queue AND state = old.state;
END;

INSERT INTO spindle_job_counts (queue, state, n)
SELECT queue, state, count(*) FROM spindle_jobs GROUP BY queue, state;

CREATE INDEX spindle_jobs_available_idx ON spindle_jobs (queue, run_at) WHERE state = 'available';
