-- Every job's timeline, as on PostgreSQL (see its 006_history.sql): the last 50 state and step
-- transitions, written by triggers in plain SQL (they also run on the application's own
-- connections). An entry that repeats the previous one only moves its timestamp.
ALTER TABLE spindle_jobs ADD COLUMN history TEXT NOT NULL DEFAULT '[]';

CREATE TRIGGER spindle_jobs_history_insert AFTER INSERT ON spindle_jobs BEGIN
  UPDATE spindle_jobs SET history = CASE
    WHEN json_extract(history, '$[#-1].type') = NEW.state AND json_extract(history, '$[#-1].detail') = ''
      THEN json_set(history, '$[#-1].at', strftime('%Y-%m-%d %H:%M:%f', 'now'))
    ELSE json_insert(CASE WHEN json_array_length(history) >= 50 THEN json_remove(history, '$[0]')
                          ELSE history END,
                     '$[#]', json_object('at', strftime('%Y-%m-%d %H:%M:%f', 'now'),
                                         'type', NEW.state, 'detail', ''))
  END WHERE id = NEW.id;
END;

CREATE TRIGGER spindle_jobs_history_state AFTER UPDATE OF state ON spindle_jobs
WHEN NEW.state IS NOT OLD.state BEGIN
  UPDATE spindle_jobs SET history = CASE
    WHEN json_extract(history, '$[#-1].type') = NEW.state AND json_extract(history, '$[#-1].detail') = CASE
      WHEN NEW.state = 'running'
        THEN 'attempt ' || NEW.attempt || ' on ' || coalesce(NEW.lease_owner, '?')
      WHEN NEW.state IN ('retryable', 'failed') AND json_array_length(NEW.errors) > 0
        THEN json_extract(NEW.errors, '$[#-1].error')
      ELSE '' END
      THEN json_set(history, '$[#-1].at', strftime('%Y-%m-%d %H:%M:%f', 'now'))
    ELSE json_insert(CASE WHEN json_array_length(history) >= 50 THEN json_remove(history, '$[0]')
                          ELSE history END,
                     '$[#]', json_object('at', strftime('%Y-%m-%d %H:%M:%f', 'now'),
                                         'type', NEW.state, 'detail', CASE
      WHEN NEW.state = 'running'
        THEN 'attempt ' || NEW.attempt || ' on ' || coalesce(NEW.lease_owner, '?')
      WHEN NEW.state IN ('retryable', 'failed') AND json_array_length(NEW.errors) > 0
        THEN json_extract(NEW.errors, '$[#-1].error')
      ELSE '' END))
  END WHERE id = NEW.id;
END;

CREATE TRIGGER spindle_jobs_history_step AFTER UPDATE OF step, checkpoint ON spindle_jobs
WHEN NEW.step IS NOT NULL AND (NEW.step IS NOT OLD.step OR NEW.checkpoint IS NOT OLD.checkpoint)
BEGIN
  UPDATE spindle_jobs SET history = CASE
    WHEN json_extract(history, '$[#-1].type') = 'step' AND json_extract(history, '$[#-1].detail') = NEW.step
      THEN json_set(history, '$[#-1].at', strftime('%Y-%m-%d %H:%M:%f', 'now'))
    ELSE json_insert(CASE WHEN json_array_length(history) >= 50 THEN json_remove(history, '$[0]')
                          ELSE history END,
                     '$[#]', json_object('at', strftime('%Y-%m-%d %H:%M:%f', 'now'),
                                         'type', 'step', 'detail', NEW.step))
  END WHERE id = NEW.id;
END;
