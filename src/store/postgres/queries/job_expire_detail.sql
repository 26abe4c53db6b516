-- Says why jobs expired (job_expire.sql) in the history entry their expiry just wrote (the
-- trigger of migration 007 writes it without a detail). $1 ids, $2 reasons.
UPDATE spindle.job_events e
SET detail = x.why
FROM unnest($1::uuid[], $2::text[]) AS x(id, why)
WHERE e.job_id = x.id AND e.type = 'expired' AND e.detail = ''
  AND e.seq = (SELECT max(seq) FROM spindle.job_events WHERE job_id = x.id)
