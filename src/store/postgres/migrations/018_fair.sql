-- Fair shares (docs/regulation.md, "Fair shares"): start-time fair queueing between the tenants
-- of a queue whose workers declare a fairness key (a path into the args, `queues.fair_key`).
--
-- Every job of such a queue gets, as it is inserted, its tenant (`fair_key`, the key's value)
-- and a virtual start time (`fair_vt`): its tenant's last waiting job's plus 1/weight, but never
-- before the virtual clock of its queue and priority (`fair_clocks`, the latest virtual time a
-- fetch leased there).
-- The fetch takes jobs by (priority, fair_vt), so tenants with backlogs take turns in proportion
-- to their weights, and a tenant that arrives (or comes back) starts at the clock: it neither
-- waits behind another's backlog nor gets credit for the time it was idle. Jobs keep their time
-- through retries and naps, so they come back ahead of the line. Ordinary queues pay one cheap
-- check per insert statement: both triggers test for fair queues first, and both indexes are
-- partial.
ALTER TABLE spindle.queues
  ADD COLUMN fair_key text,              -- a path into the args ("customer_id"); NULL: not fair
  ADD COLUMN fair_weights jsonb;         -- {"tenant": weight}; a tenant not named weighs 1
CREATE TABLE spindle.fair_clocks (
  queue    text NOT NULL,
  priority integer NOT NULL,
  clock    double precision NOT NULL,
  PRIMARY KEY (queue, priority)
);
ALTER TABLE spindle.jobs ADD COLUMN fair_key text, ADD COLUMN fair_vt double precision;

-- The fair fetch (job_fetch_fair.sql) reads a fair queue's jobs here in order.
CREATE INDEX jobs_fair_idx ON spindle.jobs (queue, priority, fair_vt, run_at, id)
  WHERE fair_vt IS NOT NULL AND state IN ('scheduled', 'available', 'retryable')
    AND NOT serial_held AND gate_wait IS NULL;
-- A tenant's last waiting job at a priority, for the next one's time.
CREATE INDEX jobs_fair_tenant_idx ON spindle.jobs (queue, fair_key, priority, fair_vt)
  WHERE fair_vt IS NOT NULL AND state IN ('scheduled', 'available', 'retryable');

-- Stamps the jobs of one insert statement that went into fair queues, in id order (a batch's
-- order) within each tenant and priority, the due ones and those scheduled for later apart. A
-- tenant's last waiting job is its last one due at the same priority: its jobs scheduled for
-- later, or at another priority, do not push back the ones due now (a scheduled job takes its
-- turn from when it was enqueued: it goes early once due).
CREATE FUNCTION spindle.fair_stamped() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM spindle.queues WHERE fair_key IS NOT NULL) THEN
    RETURN NULL;
  END IF;
  WITH keyed AS (
    SELECT n.id, n.queue, n.priority, n.created_at, n.run_at <= n.created_at AS due,
           coalesce(n.args #>> string_to_array(q.fair_key, '.'), '') AS tenant,
           coalesce((q.fair_weights ->> coalesce(n.args #>> string_to_array(q.fair_key, '.'),
                                                 ''))::double precision, 1) AS weight
    FROM inserted_jobs n JOIN spindle.queues q ON q.name = n.queue AND q.fair_key IS NOT NULL
  ), based AS (
    SELECT queue, tenant, priority,
           greatest(coalesce((SELECT c.clock FROM spindle.fair_clocks c
                              WHERE c.queue = keyed.queue AND c.priority = keyed.priority), 0),
                    (SELECT max(o.fair_vt) FROM spindle.jobs o
                     WHERE o.queue = keyed.queue AND o.fair_key = keyed.tenant
                       AND o.priority = keyed.priority AND o.fair_vt IS NOT NULL
                       AND o.state IN ('scheduled', 'available', 'retryable')
                       AND o.run_at <= min(keyed.created_at))) AS base
    FROM keyed GROUP BY queue, tenant, priority
  )
  UPDATE spindle.jobs j
  SET fair_key = s.tenant, fair_vt = s.vt
  FROM (SELECT k.id, k.tenant,
               b.base + row_number() OVER (PARTITION BY k.queue, k.tenant, k.priority, k.due
                                           ORDER BY k.id) / k.weight AS vt
        FROM keyed k JOIN based b USING (queue, tenant, priority)) s
  WHERE j.id = s.id;
  RETURN NULL;
END $$;
CREATE TRIGGER jobs_fair_stamped AFTER INSERT ON spindle.jobs
  REFERENCING NEW TABLE AS inserted_jobs FOR EACH STATEMENT
  EXECUTE FUNCTION spindle.fair_stamped();

-- A fair job leased: the clock of its queue and priority moves up to its time.
CREATE FUNCTION spindle.fair_clocked() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO spindle.fair_clocks AS c (queue, priority, clock)
  VALUES (NEW.queue, NEW.priority, NEW.fair_vt)
  ON CONFLICT (queue, priority) DO UPDATE SET clock = excluded.clock WHERE c.clock < excluded.clock;
  RETURN NULL;
END $$;
CREATE TRIGGER jobs_fair_clocked AFTER UPDATE OF state ON spindle.jobs FOR EACH ROW
  WHEN (NEW.fair_vt IS NOT NULL AND NEW.state = 'running' AND OLD.state <> 'running')
  EXECUTE FUNCTION spindle.fair_clocked();
