-- Applies finished attempts reported by worker $2 (arrays: one element per job). Fenced: a row
-- changes only while it is still running under this worker and attempt, so a worker that lost
-- its lease can no longer change the job. Returns the ids that were applied.
-- A refused outcome whose job was taken from this worker while the attempt ran (stopped,
-- cancelled, the cluster stopped: no longer running, but still leased to this worker and
-- attempt) ends that lease: the attempt's process is gone, so the job may run again at once.
--   kind 'completed' -> completed, with its result (JSON or NULL)
--   kind 'error'     -> retryable after delay_ms, or failed when attempts are exhausted
--   kind 'discard'   -> failed
--   kind 'release'   -> available/scheduled again after delay_ms (a nap; at once when a wake-up
--                       arrived while it ran); the attempt does not count: attempts_used
--                       gives it back (attempt itself only ever grows, which is what makes it
--                       a fencing token)
-- $9: the parents of these jobs. They are locked first, in id order, before any of the jobs: a
-- finished child's trigger updates its parent, and a cancel locks a parent before its children,
-- so taking parents first and in one order keeps batches and cancels from deadlocking.
WITH parents AS (
  SELECT id FROM spindle.jobs WHERE id = ANY ($9::uuid[]) ORDER BY id FOR UPDATE
), o AS (
  -- With the gates each attempt holds (docs/regulation.md), as they were before the updates
  -- below clear them (a job's gates do not change while its lease lasts), looked up by id so
  -- that the updates return them without joining anything to their results: the planner cannot
  -- estimate those, and a nested loop over them was quadratic in the batch.
  SELECT t.*, g.gates
  FROM unnest($3::uuid[], $4::integer[], $5::text[], $6::text[], $7::bigint[], $8::jsonb[])
    AS t(id, attempt, kind, message, delay_ms, result)
  LEFT JOIN spindle.jobs g ON g.id = t.id
), updated AS (
  UPDATE spindle.jobs j
  SET state = (CASE
        WHEN o.kind = 'completed' THEN 'completed'
        WHEN o.kind = 'discard' THEN 'failed'
        WHEN o.kind = 'error' AND j.attempts_used >= j.max_attempts THEN 'failed'
        WHEN o.kind = 'error' THEN 'retryable'
        WHEN o.delay_ms > 0 AND NOT j.wake_requested THEN 'scheduled'
        ELSE 'available' END)::spindle.job_state,
      attempts_used = CASE WHEN o.kind = 'release' THEN j.attempts_used - 1
                           ELSE j.attempts_used END,
      run_at = CASE WHEN o.kind = 'release' AND j.wake_requested THEN coalesce($1, now())
                    WHEN o.kind IN ('error', 'release')
                    THEN coalesce($1, now()) + o.delay_ms * interval '1 millisecond'
                    ELSE j.run_at END,
      wake_requested = false,
      finished_at = CASE WHEN o.kind IN ('completed', 'discard')
                           OR (o.kind = 'error' AND j.attempts_used >= j.max_attempts)
                         THEN coalesce($1, now()) END,
      errors = CASE WHEN o.kind IN ('error', 'discard')
                    THEN j.errors || jsonb_build_array(jsonb_build_object(
                           'attempt', j.attempt, 'at', coalesce($1, now()), 'error', o.message))
                    ELSE j.errors END,
      result = CASE WHEN o.kind = 'completed' THEN o.result ELSE j.result END,
      progress = CASE WHEN o.kind = 'completed' THEN NULL ELSE j.progress END,
      lease_owner = NULL,
      lease_expires_at = NULL,
      gates = NULL
  FROM o
  -- The fence is one expression over both sides, so that the planner cannot estimate it from
  -- the jobs table's statistics, which lag behind its churn: an estimate of one running row made
  -- it rescan the unnest for every running job (quadratic; a 5,000-outcome chunk took minutes).
  -- Driven by the ids alone, the statement stays linear in the batch.
  WHERE j.id = o.id
    AND CASE WHEN j.attempt = o.attempt THEN j.state = 'running' AND j.lease_owner = $2
             ELSE false END
    AND (SELECT count(*) FROM parents) >= 0
  RETURNING j.id, j.queue, j.state, o.gates
), ended AS (
  -- Disjoint from `updated` (not running), so no row is changed twice.
  UPDATE spindle.jobs j
  SET lease_owner = NULL, lease_expires_at = NULL, gates = NULL
  FROM o
  WHERE j.id = o.id
    AND CASE WHEN j.attempt = o.attempt THEN j.state <> 'running' AND j.lease_owner = $2
             ELSE false END
  RETURNING j.id, j.queue, j.state, j.run_at, o.gates
), woken AS (
  -- Released jobs that are due at once, and jobs whose ended lease kept them from running,
  -- wake idle workers.
  SELECT pg_notify('spindle_jobs', queue || chr(31) || (extract(epoch FROM now()) * 1000000)::bigint)
  FROM (SELECT queue FROM updated WHERE state = 'available'
        UNION
        SELECT queue FROM ended
        WHERE state IN ('available', 'scheduled', 'retryable')
          AND run_at <= coalesce($1, now())) AS due
), returned AS (
  -- The places that the ended leases held (one gate per unit, the `gates` of those jobs
  -- together), to give back once this statement has committed (migration 020).
  INSERT INTO spindle.gate_returns (gates)
  SELECT jsonb_agg(g.gate)
  FROM (SELECT gates FROM updated UNION ALL SELECT gates FROM ended) e,
       jsonb_array_elements_text(e.gates) AS g(gate)
  HAVING count(*) > 0
  RETURNING id
)
-- The applied ids, then a row without one that names the places to give back, if any. The caller
-- gives them back in a transaction of its own (gates_give_back.sql): giving back takes the
-- advisory lock that every regulated fetch takes, and a lock taken here would be held until this
-- statement's commit has reached the disk.
SELECT id, NULL::bigint FROM updated WHERE (SELECT count(*) FROM woken) >= 0
UNION ALL
SELECT NULL, id FROM returned
