-- Records the dispatch settings a starting worker declares for queue ?1 (?2 ordering, ?3 shed,
-- ?4 fair_key, ?5 fair_weights): the last worker to start wins; a pause and the fair clock are
-- kept.
INSERT INTO spindle_queues (name, ordering, shed, fair_key, fair_weights)
VALUES (?1, ?2, ?3, ?4, ?5)
ON CONFLICT (name) DO UPDATE
SET ordering = excluded.ordering, shed = excluded.shed, fair_key = excluded.fair_key,
    fair_weights = excluded.fair_weights
