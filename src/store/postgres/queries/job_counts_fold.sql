-- The leader's fold of the counts' changes (migration 024) into the counts, in one transaction
-- with the removal of counts that reached zero (job_counts_drop_zero.sql). A change appended
-- while this runs is not in its snapshot and waits for the next fold.
WITH folded AS (DELETE FROM spindle.job_count_changes RETURNING queue, state, n)
INSERT INTO spindle.job_counts AS c (queue, state, n)
SELECT queue, state, sum(n) FROM folded GROUP BY queue, state
ON CONFLICT (queue, state) DO UPDATE SET n = c.n + excluded.n
