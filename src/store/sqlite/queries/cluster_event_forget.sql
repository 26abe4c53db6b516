-- After an append (cluster_event_append.sql): all but the newest 1,000 events go.
DELETE FROM spindle_cluster_events WHERE id <= last_insert_rowid() - 1000
