-- Appends one entry of the audit trail at ?1.
INSERT INTO spindle_audit (at, who, method, path, status, error) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
