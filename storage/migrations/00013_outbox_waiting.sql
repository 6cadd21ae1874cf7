-- The sender claims the due MTs in id order, each only if no earlier MT to
-- its number waits: read through outbox_pending and the primary key, that
-- walked every MT ever sent (6 ms a claim after 6,000 MTs, and growing).
-- These partial indexes hold only the MTs still waiting, so a claim costs
-- the same however long the outbox grows. Queries name the status as a
-- literal, which SQLite needs to use a partial index.

-- +goose Up
CREATE INDEX outbox_waiting ON outbox (id) WHERE status = 'pending';
CREATE INDEX outbox_waiting_phone ON outbox (phone, id) WHERE status = 'pending';

-- +goose Down
DROP INDEX outbox_waiting_phone;
DROP INDEX outbox_waiting;
