-- Job ?1 holds each gate of JSON array ?2 (docs/regulation.md).
INSERT OR IGNORE INTO spindle_permits (job_id, gate) SELECT ?1, value FROM json_each(?2)
