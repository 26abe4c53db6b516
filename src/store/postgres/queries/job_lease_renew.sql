-- Extends by $3 ms from now ($1) the leases of the jobs that worker $2 still holds: the
-- (id, attempt) pairs $4, $5, whatever the job's state (a job taken from the worker while the
-- attempt runs keeps its lease until the attempt's process is gone). Only those: a row this
-- worker fetched but lost track of (a reply lost with its connection) is not renewed, so it
-- expires and is rescued. An expired lease is not renewed either: the job may be rescued at any
-- moment (its worker was evicted), and an eviction must stay final.
-- SKIP LOCKED: a row locked now is being finished (or evicted); renewing it is moot, and
-- waiting for it could deadlock with a batch that locks the same rows in another order.
WITH renewable AS (
  SELECT j.id
  FROM spindle.jobs j JOIN unnest($4::uuid[], $5::integer[]) AS held(id, attempt)
    ON j.id = held.id
  -- One expression over both sides, as in job_finish_many.sql: not estimated from statistics.
  WHERE CASE WHEN j.attempt = held.attempt
             THEN j.lease_owner = $2 AND j.lease_expires_at > coalesce($1, now())
             ELSE false END
  FOR UPDATE OF j SKIP LOCKED
), renewed AS (
  UPDATE spindle.jobs j
  SET lease_expires_at = coalesce($1, now()) + $3 * interval '1 millisecond'
  FROM renewable
  WHERE j.id = renewable.id
  RETURNING j.id
)
-- What the worker must give up: held attempts no longer running under it, or all of them while
-- the cluster is stopped (a job fetched in the instant the cluster stopped): (id, attempt); then
-- one row with a NULL id and the number renewed.
SELECT held.id::text, held.attempt::bigint
FROM unnest($4::uuid[], $5::integer[]) AS held(id, attempt)
LEFT JOIN spindle.jobs j ON j.id = held.id
WHERE j.id IS NULL OR j.state <> 'running' OR j.lease_owner IS DISTINCT FROM $2
   OR j.attempt <> held.attempt OR (SELECT c.stopped_at FROM spindle.cluster c) IS NOT NULL
UNION ALL
SELECT NULL, count(*) FROM renewed
