-- The audit trail (docs/api.md, "Audit"): every change asked of the HTTP API by a known caller,
-- with who asked, what (method and path), when, and how it ended (status, error name). Appended
-- by the server after it answered; listed newest first by id.
CREATE TABLE spindle.audit (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  at timestamptz NOT NULL,
  who text NOT NULL,
  method text NOT NULL,
  path text NOT NULL,
  status integer NOT NULL,
  error text
);
