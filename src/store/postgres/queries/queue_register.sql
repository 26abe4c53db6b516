-- Records the dispatch settings a starting worker declares for its queues (arrays, one element
-- per queue: $1 name, $2 ordering, $3 shed, $4 fair_key, $5 fair_weights): the last worker to
-- start wins; a pause and the fair clock are kept.
INSERT INTO spindle.queues AS q (name, ordering, shed, fair_key, fair_weights)
SELECT * FROM unnest($1::text[], $2::text[], $3::boolean[], $4::text[], $5::jsonb[])
ON CONFLICT (name) DO UPDATE
SET ordering = excluded.ordering, shed = excluded.shed, fair_key = excluded.fair_key,
    fair_weights = excluded.fair_weights
