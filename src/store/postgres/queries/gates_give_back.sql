-- Gives back the places that a finished batch's leases held ($1: the row of gate_returns that
-- job_finish_many.sql returned), in a transaction of its own after the finish's (020's
-- gates_return, under the advisory lock), and lets go of the jobs parked where there is room now.
-- It commits without waiting for the disk, so that the lock is not held meanwhile: if a crash
-- loses it, counts are only too high (fewer jobs start, never more) until the leader's sweep
-- recounts them from the leases (migration 021: within seconds, as the row stays behind). A later
-- commit that reaches the disk takes this one with it, so nothing leased on the strength of it
-- outlives it.
SELECT spindle.gates_return($1::bigint), set_config('synchronous_commit', 'off', true)
