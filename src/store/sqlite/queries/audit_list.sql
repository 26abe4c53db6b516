-- Up to ?2 entries of the audit trail, newest first, older than entry ?1 (NULL: from the newest).
SELECT id, at, who, method, path, status, error
FROM spindle_audit
WHERE ?1 IS NULL OR id < ?1
ORDER BY id DESC
LIMIT ?2
