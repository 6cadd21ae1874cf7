-- The web flow's evidence (SPEC §4.5, §8). A certification made on the
-- /give page is identified in the log by a digest of the donor's IP
-- address and user agent; both are kept with the record's salt and number
-- in the queue and the log, so that an auditor can open the digest. Each
-- correct PIN is recorded with its channel, time and origin: the MO that
-- carried it, or the page's IP address and user agent.

-- +goose Up
ALTER TABLE cert_queue ADD COLUMN ip TEXT NOT NULL DEFAULT '';
ALTER TABLE cert_queue ADD COLUMN user_agent TEXT NOT NULL DEFAULT '';
ALTER TABLE cert_log ADD COLUMN ip TEXT NOT NULL DEFAULT '';
ALTER TABLE cert_log ADD COLUMN user_agent TEXT NOT NULL DEFAULT '';

CREATE TABLE pin_verifications (
    donation_id TEXT NOT NULL PRIMARY KEY,
    at          TEXT,
    channel     TEXT NOT NULL,
    message_id  TEXT NOT NULL,
    ip          TEXT NOT NULL,
    user_agent  TEXT NOT NULL
);

-- +goose Down
DROP TABLE pin_verifications;
ALTER TABLE cert_log DROP COLUMN user_agent;
ALTER TABLE cert_log DROP COLUMN ip;
ALTER TABLE cert_queue DROP COLUMN user_agent;
ALTER TABLE cert_queue DROP COLUMN ip;
