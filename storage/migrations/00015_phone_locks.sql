-- A number's transactions serialise on an advisory lock of its hash
-- (storage.lockPhone), not on a row of its own: no row to insert for a new
-- number, no row written to take the lock.

-- +goose Up
DROP TABLE phones;

-- +goose Down
CREATE TABLE phones (
    phone TEXT NOT NULL PRIMARY KEY
);
