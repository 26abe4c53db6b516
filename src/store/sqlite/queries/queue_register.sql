-- Records the dispatch settings a starting worker declares for queue ?1 (?2 ordering, ?3 shed):
-- the last worker to start wins; a pause is kept.
INSERT INTO spindle_queues (name, ordering, shed) VALUES (?1, ?2, ?3)
ON CONFLICT (name) DO UPDATE SET ordering = excluded.ordering, shed = excluded.shed
