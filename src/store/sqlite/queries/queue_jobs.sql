-- How many jobs queue ?1 has.
SELECT count(*) FROM spindle_jobs WHERE queue = ?1
