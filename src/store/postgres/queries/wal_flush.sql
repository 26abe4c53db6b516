-- Returns once every transaction committed before it is on disk: a transaction with an id writes
-- a commit record, and its synchronous commit flushes the log up to that record, which is after
-- theirs.
SELECT txid_current()
