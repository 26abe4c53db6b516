-- Takes the notices the triggers left (migration 006): the queues to wake and the workers to
-- tell, for the store to hand to this process's listeners after the commit.
DELETE FROM spindle_notices RETURNING queue, worker
