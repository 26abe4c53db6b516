SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'spindle_schema_migrations'
