SELECT to_regclass('spindle.schema_migrations') IS NOT NULL
