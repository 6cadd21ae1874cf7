-- The certification log as a transparency log (SPEC §8). The MO path only
-- queues a certification (cert_queue); the sequencer gives it an index in
-- cert_log, stores its Merkle hashes (cert_hashes, indexed as
-- golang.org/x/mod/sumdb/tlog stores them) and signs checkpoints
-- (cert_checkpoints). The texts certified to are kept once each, by their
-- SHA-256. Records written before this migration move to the queue in
-- their order, to be integrated first; the global log_head row, which
-- serialised every certifying MO, goes. Migration 8 makes these tables
-- append-only.

-- +goose Up
CREATE TABLE cert_texts (
    sha256 TEXT NOT NULL PRIMARY KEY,
    body   TEXT NOT NULL
);

CREATE TABLE cert_queue (
    id            TEXT   NOT NULL PRIMARY KEY, -- sorts in write order
    legacy_seq    BIGINT,                      -- the order of records from before
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
    amount        BIGINT NOT NULL,
    salt          TEXT                         -- hex; none on records from before
);
CREATE INDEX cert_queue_donation ON cert_queue (donation_id);

INSERT INTO cert_queue (id, legacy_seq, at, program_id, committee_id, phone, donation_id, channel,
        message_id, text_version, text_sha256, terms_version, terms_sha256, amount)
    SELECT 'legacy-' || seq, seq, at, program_id, committee_id, phone, donation_id, channel,
        message_id, text_version, text_sha256, terms_version, terms_sha256, amount
    FROM certifications;

CREATE TABLE cert_log (
    idx         BIGINT NOT NULL PRIMARY KEY, -- from 0, no gaps
    queue_id    TEXT   NOT NULL UNIQUE,
    donation_id TEXT   NOT NULL,
    record      TEXT   NOT NULL,             -- base64 of the canonical bytes
    salt        TEXT   NOT NULL,             -- hex: opens the phone commitment
    phone       TEXT   NOT NULL,
    logged_at   TEXT
);
CREATE INDEX cert_log_donation ON cert_log (donation_id);

CREATE TABLE cert_hashes (
    idx  BIGINT NOT NULL PRIMARY KEY,
    hash TEXT   NOT NULL -- hex
);

CREATE TABLE cert_checkpoints (
    size      BIGINT NOT NULL PRIMARY KEY,
    signed    TEXT   NOT NULL, -- the signed note
    signed_at TEXT
);

DROP TABLE log_head;
DROP TABLE certifications;

-- +goose Down
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
INSERT INTO certifications (seq, at, program_id, committee_id, phone, donation_id, channel, message_id,
        text_version, text_sha256, terms_version, terms_sha256, amount)
    SELECT l.idx + 1, q.at, q.program_id, q.committee_id, q.phone, q.donation_id, q.channel, q.message_id,
        q.text_version, q.text_sha256, q.terms_version, q.terms_sha256, q.amount
    FROM cert_log l JOIN cert_queue q ON q.id = l.queue_id;
CREATE TABLE log_head (
    id   INTEGER NOT NULL PRIMARY KEY,
    size BIGINT  NOT NULL
);
INSERT INTO log_head (id, size) SELECT 1, COUNT(*) FROM certifications;
DROP TABLE cert_checkpoints;
DROP TABLE cert_hashes;
DROP TABLE cert_log;
DROP TABLE cert_queue;
DROP TABLE cert_texts;
