-- The aggregator layer (SPEC §6): the charge lifecycle, fees, the blocklist,
-- refunds, settlement files and forwarding. Same portable types as 00001.

-- +goose Up

ALTER TABLE donations ADD COLUMN carrier TEXT NOT NULL DEFAULT '';
ALTER TABLE donations ADD COLUMN charge_attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE donations ADD COLUMN next_charge_at TEXT;
ALTER TABLE donations ADD COLUMN decline_code TEXT NOT NULL DEFAULT '';
ALTER TABLE donations ADD COLUMN carrier_fee BIGINT NOT NULL DEFAULT 0;
ALTER TABLE donations ADD COLUMN aggregator_fee BIGINT NOT NULL DEFAULT 0;
-- Written by settlement imports and forwarding, never by the conversation.
ALTER TABLE donations ADD COLUMN remitted_at TEXT;
ALTER TABLE donations ADD COLUMN remitted_net BIGINT NOT NULL DEFAULT 0;
ALTER TABLE donations ADD COLUMN forward_id TEXT NOT NULL DEFAULT '';
CREATE INDEX donations_charging ON donations (status, charge_posted_at);
CREATE INDEX donations_committee ON donations (committee_id, status, received_at);

-- Prohibited sources (SPEC §6.1, §6.4); committee_id '' is the global list.
CREATE TABLE blocklist (
    committee_id TEXT NOT NULL,
    phone        TEXT NOT NULL,
    reason       TEXT NOT NULL,
    source       TEXT NOT NULL, -- e.g. the refund that added it
    at           TEXT,
    PRIMARY KEY (committee_id, phone)
);

-- Refunds (SPEC §6.4): at most one live (not refused) refund per donation.
CREATE TABLE refunds (
    id              TEXT    NOT NULL PRIMARY KEY, -- the refund's referenceCode
    donation_id     TEXT    NOT NULL REFERENCES donations (id),
    phone           TEXT    NOT NULL,
    committee_id    TEXT    NOT NULL,
    carrier         TEXT    NOT NULL,
    amount          BIGINT  NOT NULL,
    reason          TEXT    NOT NULL, -- prohibited, excessive, donor-request
    status          TEXT    NOT NULL, -- posted, refunded, refused
    correlator      TEXT    NOT NULL,
    requested_at    TEXT,
    discovered_at   TEXT,
    deadline        TEXT,
    attempts        INTEGER NOT NULL,
    next_attempt_at TEXT,
    server_ref      TEXT    NOT NULL,
    decline_code    TEXT    NOT NULL,
    decline_reason  TEXT    NOT NULL,
    finished_at     TEXT,
    actor           TEXT    NOT NULL
);
CREATE UNIQUE INDEX refunds_live ON refunds (donation_id) WHERE status <> 'refused';
CREATE INDEX refunds_pending ON refunds (status, next_attempt_at);

-- Every line of every imported settlement file, matched or not (SPEC §6.3,
-- §10 (7)); a file is imported once (file_sha256).
CREATE TABLE settlement_files (
    sha256      TEXT    NOT NULL PRIMARY KEY,
    carrier     TEXT    NOT NULL,
    name        TEXT    NOT NULL,
    lines       INTEGER NOT NULL,
    imported_at TEXT
);
CREATE TABLE settlement_lines (
    file_sha256 TEXT    NOT NULL REFERENCES settlement_files (sha256),
    line_no     INTEGER NOT NULL,
    carrier     TEXT    NOT NULL,
    server_ref  TEXT    NOT NULL,
    reference   TEXT    NOT NULL,
    charged_at  TEXT,
    gross       BIGINT  NOT NULL,
    carrier_fee BIGINT  NOT NULL,
    net         BIGINT  NOT NULL,
    status      TEXT    NOT NULL,
    donation_id TEXT    NOT NULL, -- '' when unmatched
    refund_id   TEXT    NOT NULL,
    problem     TEXT    NOT NULL, -- '' when matched cleanly
    PRIMARY KEY (file_sha256, line_no)
);
CREATE INDEX settlement_lines_ref ON settlement_lines (carrier, server_ref);

-- Money forwarded to a committee (SPEC §6.3).
CREATE TABLE forwards (
    id           TEXT   NOT NULL PRIMARY KEY,
    committee_id TEXT   NOT NULL,
    amount       BIGINT NOT NULL,
    count        INTEGER NOT NULL,
    through      TEXT,
    at           TEXT,
    reference    TEXT   NOT NULL,
    actor        TEXT   NOT NULL
);

-- Treasurer and admin actions, append-only (SPEC §11).
CREATE TABLE actions (
    id     TEXT NOT NULL PRIMARY KEY, -- sorts in write order
    at     TEXT,
    actor  TEXT NOT NULL,
    action TEXT NOT NULL,
    detail TEXT NOT NULL
);

-- +goose Down
DROP TABLE actions;
DROP TABLE forwards;
DROP TABLE settlement_lines;
DROP TABLE settlement_files;
DROP TABLE refunds;
DROP TABLE blocklist;
DROP INDEX donations_committee;
DROP INDEX donations_charging;
ALTER TABLE donations DROP COLUMN forward_id;
ALTER TABLE donations DROP COLUMN remitted_net;
ALTER TABLE donations DROP COLUMN remitted_at;
ALTER TABLE donations DROP COLUMN aggregator_fee;
ALTER TABLE donations DROP COLUMN carrier_fee;
ALTER TABLE donations DROP COLUMN decline_code;
ALTER TABLE donations DROP COLUMN next_charge_at;
ALTER TABLE donations DROP COLUMN charge_attempts;
ALTER TABLE donations DROP COLUMN carrier;
