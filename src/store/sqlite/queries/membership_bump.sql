-- Counts a membership change. Listeners of this process are told by the store after the commit;
-- other processes see the new version in member_list.sql.
UPDATE spindle_cluster SET membership_version = membership_version + 1
