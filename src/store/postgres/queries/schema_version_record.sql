INSERT INTO spindle.schema_migrations (version, name) VALUES ($1, $2)
