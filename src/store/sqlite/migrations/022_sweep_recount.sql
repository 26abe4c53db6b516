-- The backends share their migrations' numbering. On PostgreSQL, 022 makes the sweep's recount
-- optional; SQLite's sweep always recounts (a few statements in the process that holds the
-- database's write lock).
SELECT 1;
