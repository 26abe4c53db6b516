-- The backends share their migrations' numbering. On PostgreSQL, 021 lets the sweep drop the
-- places that finished batches wait to give back in its recount's statement, and makes the
-- recount optional; SQLite has no such places, and its sweep always recounts (a few statements
-- in the process that holds the database's write lock).
SELECT 1;
