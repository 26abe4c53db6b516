-- Retention of the audit trail (Store::AuditPrune) reads the oldest entries by time.
CREATE INDEX audit_at_idx ON spindle.audit (at);
