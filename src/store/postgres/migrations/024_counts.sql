-- Jobs by queue and state, kept as jobs change instead of counted by a scan of the table
-- (queue_list.sql: GET /queues, the dashboard, the metrics, the event hub's reads).
-- Each statement that inserts, changes or deletes jobs appends its net change per queue and
-- state to job_count_changes: append only, so workers finishing jobs of one queue at once never
-- wait for one counter row. The leader folds the changes into job_counts (job_counts_fold.sql);
-- a count is the folded count plus the changes not folded yet.
CREATE TABLE spindle.job_counts (
  queue text NOT NULL,
  state spindle.job_state NOT NULL,
  n     bigint NOT NULL,
  PRIMARY KEY (queue, state)
);
CREATE TABLE spindle.job_count_changes (
  queue text NOT NULL,
  state spindle.job_state NOT NULL,
  n     bigint NOT NULL
);

-- Statement triggers with transition tables: one grouped insert per statement, however many
-- jobs it touched (a batch of 1,000 finishes appends a row or two). A statement that moves no
-- job between states (a lease renewal, a saved checkpoint) appends nothing.
CREATE FUNCTION spindle.jobs_counted_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO spindle.job_count_changes
  SELECT queue, state, count(*) FROM added GROUP BY queue, state;
  RETURN NULL;
END $$;
CREATE FUNCTION spindle.jobs_counted_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO spindle.job_count_changes
  SELECT queue, state, sum(n) FROM (SELECT queue, state, 1 AS n FROM after_change
                                    UNION ALL SELECT queue, state, -1 FROM before_change) c
  GROUP BY queue, state HAVING sum(n) <> 0;
  RETURN NULL;
END $$;
CREATE FUNCTION spindle.jobs_counted_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO spindle.job_count_changes
  SELECT queue, state, -count(*) FROM removed GROUP BY queue, state;
  RETURN NULL;
END $$;
CREATE TRIGGER jobs_counted_insert AFTER INSERT ON spindle.jobs
  REFERENCING NEW TABLE AS added
  FOR EACH STATEMENT EXECUTE FUNCTION spindle.jobs_counted_insert();
CREATE TRIGGER jobs_counted_update AFTER UPDATE ON spindle.jobs
  REFERENCING OLD TABLE AS before_change NEW TABLE AS after_change
  FOR EACH STATEMENT EXECUTE FUNCTION spindle.jobs_counted_update();
CREATE TRIGGER jobs_counted_delete AFTER DELETE ON spindle.jobs
  REFERENCING OLD TABLE AS removed
  FOR EACH STATEMENT EXECUTE FUNCTION spindle.jobs_counted_delete();
-- TRUNCATE has no transition table: it empties the counts.
CREATE FUNCTION spindle.jobs_counted_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM spindle.job_count_changes;
  DELETE FROM spindle.job_counts;
  RETURN NULL;
END $$;
CREATE TRIGGER jobs_counted_truncate AFTER TRUNCATE ON spindle.jobs
  FOR EACH STATEMENT EXECUTE FUNCTION spindle.jobs_counted_truncate();

-- The jobs there are now. CREATE TRIGGER has locked out writers until this transaction commits,
-- so no change falls between this count and the triggers.
INSERT INTO spindle.job_counts
SELECT queue, state, count(*) FROM spindle.jobs GROUP BY queue, state;

-- How long a queue's oldest available job has waited, read per queue without a scan.
CREATE INDEX jobs_available_idx ON spindle.jobs (queue, run_at) WHERE state = 'available';
