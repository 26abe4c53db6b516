-- Retention (Store::AuditPrune): deletes up to ?3 audit entries written more than ?2 ms before
-- ?1 (microseconds), oldest first, one row returned for each.
DELETE FROM spindle_audit
WHERE id IN (SELECT id FROM spindle_audit WHERE at < ?1 - ?2 * 1000 ORDER BY at LIMIT ?3)
RETURNING 1
