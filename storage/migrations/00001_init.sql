-- The initial schema. It runs unchanged on SQLite and PostgreSQL: TEXT,
-- BIGINT, INTEGER and BOOLEAN columns only, ids generated in Go, times as
-- TEXT in fixed-width UTC (2006-01-02T15:04:05.000000000Z) so that they
-- sort as text, NULL for never.

-- +goose Up

-- One row per phone number ever seen: Update locks it to serialise every
-- change for that number (SELECT ... FOR UPDATE on PostgreSQL).
CREATE TABLE phones (
    phone TEXT NOT NULL PRIMARY KEY
);

CREATE TABLE committees (
    id     TEXT NOT NULL PRIMARY KEY,
    config TEXT NOT NULL -- compliance.Committee as JSON
);

CREATE TABLE programs (
    id           TEXT    NOT NULL PRIMARY KEY,
    short_code   TEXT    NOT NULL,
    committee_id TEXT    NOT NULL REFERENCES committees (id),
    active       BOOLEAN NOT NULL,
    config       TEXT    NOT NULL -- compliance.Program as JSON, committee aside
);
CREATE INDEX programs_short_code ON programs (short_code, active);

-- On one short code every keyword maps to exactly one program (SPEC §3).
CREATE TABLE keywords (
    short_code TEXT NOT NULL,
    keyword    TEXT NOT NULL,
    program_id TEXT NOT NULL REFERENCES programs (id),
    PRIMARY KEY (short_code, keyword)
);
CREATE INDEX keywords_program ON keywords (program_id);

-- Inbound messages, deduplicated on the gateway's message id (SPEC §12.1).
CREATE TABLE mos (
    gateway     TEXT NOT NULL,
    message_id  TEXT NOT NULL,
    phone       TEXT NOT NULL,
    short_code  TEXT NOT NULL,
    body        TEXT NOT NULL,
    received_at TEXT,
    PRIMARY KEY (gateway, message_id)
);
CREATE INDEX mos_phone ON mos (phone, received_at);

CREATE TABLE subscribers (
    phone          TEXT    NOT NULL,
    short_code     TEXT    NOT NULL,
    state          TEXT    NOT NULL,
    program_id     TEXT    NOT NULL,
    donation_id    TEXT    NOT NULL,
    opted_out      BOOLEAN NOT NULL,
    reprompts      INTEGER NOT NULL,
    hint_at        TEXT,
    expired_notice BOOLEAN NOT NULL,
    updated_at     TEXT,
    PRIMARY KEY (phone, short_code)
);

CREATE TABLE donations (
    id               TEXT    NOT NULL PRIMARY KEY,
    program_id       TEXT    NOT NULL,
    committee_id     TEXT    NOT NULL,
    phone            TEXT    NOT NULL,
    short_code       TEXT    NOT NULL,
    amount           BIGINT  NOT NULL, -- cents
    status           TEXT    NOT NULL,
    created_at       TEXT,
    reserved_at      TEXT,
    received_at      TEXT,
    certified_at     TEXT,
    expires_at       TEXT,
    pin_hash         TEXT    NOT NULL,
    pin_tries        INTEGER NOT NULL,
    token            TEXT    NOT NULL,
    charge_posted_at TEXT,
    correlator       TEXT    NOT NULL,
    server_ref       TEXT    NOT NULL,
    decline_reason   TEXT    NOT NULL,
    finished_at      TEXT,
    refunded_at      TEXT -- set by refunds (SPEC §6.4), never written by Apply
);
CREATE INDEX donations_usage ON donations (phone, committee_id, status);
CREATE INDEX donations_open ON donations (status, expires_at);
CREATE UNIQUE INDEX donations_token ON donations (token) WHERE token <> '';

-- MTs written in the same transaction as the change that caused them, then
-- sent until the gateway accepts them (SPEC §12.1).
CREATE TABLE outbox (
    id              TEXT    NOT NULL PRIMARY KEY, -- sorts in write order
    phone           TEXT    NOT NULL,
    short_code      TEXT    NOT NULL,
    body            TEXT    NOT NULL,
    donation_id     TEXT    NOT NULL,
    mo_id           TEXT    NOT NULL,
    status          TEXT    NOT NULL, -- pending, sent, failed
    attempts        INTEGER NOT NULL,
    last_error      TEXT    NOT NULL,
    created_at      TEXT,
    next_attempt_at TEXT,
    sent_at         TEXT,
    failed_at       TEXT,
    sid             TEXT,
    delivery_status TEXT,
    delivery_error  TEXT,
    delivery_at     TEXT
);
CREATE INDEX outbox_pending ON outbox (status, next_attempt_at);
CREATE INDEX outbox_phone ON outbox (phone, id);
CREATE INDEX outbox_sid ON outbox (sid);

-- The certification log (SPEC §8), append-only, seq gap-free from 1.
CREATE TABLE certifications (
    seq           BIGINT NOT NULL PRIMARY KEY,
    at            TEXT,
    program_id    TEXT   NOT NULL,
    committee_id  TEXT   NOT NULL,
    phone         TEXT   NOT NULL,
    donation_id   TEXT   NOT NULL,
    channel       TEXT   NOT NULL,
    message_id    TEXT   NOT NULL,
    text_version  TEXT   NOT NULL,
    text_sha256   TEXT   NOT NULL,
    terms_version TEXT   NOT NULL,
    terms_sha256  TEXT   NOT NULL,
    amount        BIGINT NOT NULL
);
CREATE INDEX certifications_donation ON certifications (donation_id);

-- The log size: appending bumps it, which serialises appends.
CREATE TABLE log_head (
    id   INTEGER NOT NULL PRIMARY KEY,
    size BIGINT  NOT NULL
);
INSERT INTO log_head (id, size) VALUES (1, 0);

-- Opt-outs and re-opt-ins, kept for review, append-only.
CREATE TABLE consent_events (
    id         TEXT    NOT NULL PRIMARY KEY, -- sorts in write order
    phone      TEXT    NOT NULL,
    short_code TEXT    NOT NULL,
    at         TEXT,
    kind       TEXT    NOT NULL,
    message_id TEXT    NOT NULL,
    body       TEXT    NOT NULL,
    inferred   BOOLEAN NOT NULL
);
CREATE INDEX consent_events_phone ON consent_events (phone, id);

-- +goose Down
DROP TABLE consent_events;
DROP TABLE log_head;
DROP TABLE certifications;
DROP TABLE outbox;
DROP TABLE donations;
DROP TABLE subscribers;
DROP TABLE mos;
DROP TABLE keywords;
DROP TABLE programs;
DROP TABLE committees;
DROP TABLE phones;
