-- Counts a membership change and announces it to every listening worker. Taking the cluster
-- row's lock also serializes registrations (automatic partition numbers).
WITH bumped AS (
  UPDATE spindle.cluster SET membership_version = membership_version + 1
  RETURNING membership_version
)
SELECT membership_version, pg_notify('spindle_members', membership_version::text) FROM bumped
