-- After the sweep's recount, in its transaction (under the advisory lock): the places that
-- finished batches wait to give back (migration 020) are no longer counted, so none is given back
-- again. Deleted after the recount, not before: a finish that commits in between is then counted
-- once too often until the next sweep, rather than given back twice.
DELETE FROM spindle.gate_returns
