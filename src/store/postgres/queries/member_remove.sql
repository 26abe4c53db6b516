-- Removes member $2 (NULL: any member), only if silent past its heartbeat timeout when $3.
-- Its leases expire now, in every state: its running jobs the rescuer takes, the jobs taken from
-- it become fetchable. Its assignment claims and its leader term end, and the change is
-- announced. Returns the removed ids.
WITH gone AS (
  DELETE FROM spindle.workers w
  WHERE ($2::text IS NULL OR w.id = $2)
    AND (NOT $3 OR w.heartbeat_at + w.heartbeat_timeout_ms * interval '1 millisecond'
                   < coalesce($1, now()))
  RETURNING w.id
), leases AS (
  UPDATE spindle.jobs j SET lease_expires_at = coalesce($1, now()) - interval '1 millisecond'
  WHERE j.lease_expires_at IS NOT NULL AND j.lease_owner IN (SELECT id FROM gone)
), claims AS (
  DELETE FROM spindle.assignments a WHERE a.owner IN (SELECT id FROM gone)
), bumped AS (
  UPDATE spindle.cluster c
  SET membership_version = c.membership_version + 1,
      leader_expires_at = CASE WHEN c.leader IN (SELECT id FROM gone) THEN NULL
                               ELSE c.leader_expires_at END
  WHERE EXISTS (SELECT 1 FROM gone)
  RETURNING c.membership_version
)
SELECT gone.id, pg_notify('spindle_members', bumped.membership_version::text)
FROM gone, bumped
