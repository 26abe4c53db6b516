-- Member ?2 takes the leader term when it is free or expired (a new term), or extends the term
-- it holds, until ?1 (now) + ?3 ms. Returns the term when ?2 leads.
UPDATE spindle_cluster
SET leader_term = CASE WHEN leader = ?2 AND leader_expires_at > ?1
                       THEN leader_term ELSE leader_term + 1 END,
    leader = ?2,
    leader_expires_at = ?1 + ?3 * 1000
WHERE (leader = ?2 OR leader IS NULL OR leader_expires_at IS NULL OR leader_expires_at <= ?1)
  AND EXISTS (SELECT 1 FROM spindle_workers w WHERE w.id = ?2)
RETURNING leader_term
