SELECT stopped_at, stop_reason FROM spindle.cluster
