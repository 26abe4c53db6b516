-- Takes the gates that releases left with room and waiting jobs (migration 016), for the store to
-- open (gate_open.sql) in the same transaction.
DELETE FROM spindle_gate_wakes RETURNING gate
