-- outbox_pending (status, next_attempt_at) is no longer read: the sender
-- walks outbox_waiting, and the counts read the waiting MTs through it.
-- Without it a claim, which sets next_attempt_at and nothing indexed, can
-- update the row in place (a heap-only tuple on PostgreSQL) instead of
-- adding an entry to each of the outbox's indexes.

-- +goose Up
DROP INDEX outbox_pending;

-- +goose Down
CREATE INDEX outbox_pending ON outbox (status, next_attempt_at);
