-- Records the dispatch settings a starting worker declares for its queues (arrays, one element
-- per queue: $1 name, $2 ordering, $3 shed): the last worker to start wins; a pause is kept.
INSERT INTO spindle.queues AS q (name, ordering, shed)
SELECT * FROM unnest($1::text[], $2::text[], $3::boolean[])
ON CONFLICT (name) DO UPDATE SET ordering = excluded.ordering, shed = excluded.shed
