-- Forgets queue $1 unless it has jobs: its row (its pause) goes. Returns how many jobs it has.
WITH jobs AS (
  SELECT count(*) AS n FROM spindle.jobs WHERE queue = $1
), gone AS (
  DELETE FROM spindle.queues WHERE name = $1 AND (SELECT n FROM jobs) = 0
)
SELECT n FROM jobs
