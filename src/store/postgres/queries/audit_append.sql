-- Appends one entry of the audit trail at $1 (NULL: the server's now).
INSERT INTO spindle.audit (at, who, method, path, status, error)
VALUES (coalesce($1, now()), $2, $3, $4, $5, $6)
