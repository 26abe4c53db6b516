SELECT stopped_at, stop_reason FROM spindle_cluster
