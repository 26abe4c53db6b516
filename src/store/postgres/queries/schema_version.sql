-- The schema version in place. Run only when schema_migrations exists (schema_exists.sql).
SELECT coalesce(max(version), 0) FROM spindle.schema_migrations
