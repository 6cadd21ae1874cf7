-- The outbox learns what SPEC §10 (4) and §12.1 need: which MT is an
-- opt-out confirmation (the one text allowed after STOP), whether a send is
-- in flight or ended without a known outcome (resolved against the
-- gateway's message list before sending again), and the body to keep once
-- the MT leaves the queue (PINs and page tokens redacted).
--
-- server_secrets holds keys the servers of one database share when none is
-- configured, such as the PIN hashing key.

-- +goose Up
ALTER TABLE outbox ADD COLUMN kind TEXT NOT NULL DEFAULT '';
ALTER TABLE outbox ADD COLUMN in_flight BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE outbox ADD COLUMN redacted_body TEXT;
ALTER TABLE outbox ADD COLUMN cancelled_at TEXT;
ALTER TABLE outbox ADD COLUMN claimed_until TEXT;

CREATE TABLE server_secrets (
    name  TEXT NOT NULL PRIMARY KEY,
    value TEXT NOT NULL
);

-- +goose Down
DROP TABLE server_secrets;
ALTER TABLE outbox DROP COLUMN claimed_until;
ALTER TABLE outbox DROP COLUMN cancelled_at;
ALTER TABLE outbox DROP COLUMN redacted_body;
ALTER TABLE outbox DROP COLUMN in_flight;
ALTER TABLE outbox DROP COLUMN kind;
