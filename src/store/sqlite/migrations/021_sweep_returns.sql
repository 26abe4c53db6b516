-- The backends share their migrations' numbering. On PostgreSQL, 021 lets the sweep drop the
-- places that finished batches wait to give back in its recount's statement; SQLite has none.
SELECT 1;
