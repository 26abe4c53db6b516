-- The advisory lock that every regulated fetch and every release of places takes for the rest of
-- its transaction (migration 015; the same key as there), so that no two decide on the same counts.
SELECT pg_advisory_xact_lock(7361626470)
