-- Member $2 takes the leader term when it is free or expired (a new term), or extends the term
-- it holds, until now + $3 ms. Returns the term when $2 leads.
UPDATE spindle.cluster c
SET leader_term = CASE WHEN c.leader = $2 AND c.leader_expires_at > coalesce($1, now())
                       THEN c.leader_term ELSE c.leader_term + 1 END,
    leader = $2,
    leader_expires_at = coalesce($1, now()) + $3 * interval '1 millisecond'
WHERE (c.leader = $2 OR c.leader IS NULL OR c.leader_expires_at IS NULL
       OR c.leader_expires_at <= coalesce($1, now()))
  AND EXISTS (SELECT 1 FROM spindle.workers w WHERE w.id = $2)
RETURNING c.leader_term
