-- As on PostgreSQL (see its 023_audit_at.sql).
CREATE INDEX spindle_audit_at_idx ON spindle_audit (at);
