-- API tokens (SPEC §11): one role each; only the SHA-256 of the secret is
-- kept.

-- +goose Up
CREATE TABLE api_tokens (
    id         TEXT NOT NULL PRIMARY KEY,
    name       TEXT NOT NULL,
    role       TEXT NOT NULL,
    hash       TEXT NOT NULL UNIQUE,
    created_at TEXT,
    revoked_at TEXT
);

-- +goose Down
DROP TABLE api_tokens;
