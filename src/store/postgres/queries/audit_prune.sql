-- Retention (Store::AuditPrune): deletes up to $3 audit entries written more than $2 ms before
-- $1 (NULL: the database's clock), oldest first. Returns how many were deleted.
WITH doomed AS (
  SELECT id FROM spindle.audit
  WHERE at < coalesce($1, now()) - $2 * interval '1 millisecond'
  ORDER BY at
  LIMIT $3
), deleted AS (
  DELETE FROM spindle.audit WHERE id IN (SELECT id FROM doomed) RETURNING 1
)
SELECT count(*) FROM deleted
