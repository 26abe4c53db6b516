-- Returns once every transaction committed before it is on disk. Its transaction writes to the
-- log (a transactional message that nothing reads), so its commit waits until the log is
-- flushed up to its commit record, which is after theirs. (A transaction that only takes an id,
-- such as `SELECT txid_current()`, writes nothing, and PostgreSQL then commits it without a flush.)
SELECT pg_logical_emit_message(true, 'spindle', '')
