-- Counts the removal of the members in JSON array ?1 as one membership change, and ends the
-- leader term if one of them held it.
UPDATE spindle_cluster
SET membership_version = membership_version + 1,
    leader_expires_at = CASE WHEN leader IN (SELECT value FROM json_each(?1)) THEN NULL
                             ELSE leader_expires_at END
