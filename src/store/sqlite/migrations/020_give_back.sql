-- The backends share their migrations' numbering. On PostgreSQL, 020 lets a finish give back its
-- jobs' places after its commit; on SQLite a finish already does so in its own transaction.
SELECT 1;
