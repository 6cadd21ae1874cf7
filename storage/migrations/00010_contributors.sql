-- Contributors identified to a committee (SPEC §5.4, §9): the name,
-- address, employer and occupation Schedule A itemizes, by phone number.
-- Identified mode will write them; reports read them.

-- +goose Up
CREATE TABLE contributors (
    committee_id TEXT NOT NULL,
    phone        TEXT NOT NULL,
    details      TEXT NOT NULL, -- report.Contributor as JSON
    updated_at   TEXT,
    PRIMARY KEY (committee_id, phone)
);

-- +goose Down
DROP TABLE contributors;
