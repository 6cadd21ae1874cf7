-- Every delivery status callback, as received. A callback can arrive before
-- the sender has stored the message id the gateway gave it (it races the
-- answer to the send); MarkSent then applies the callbacks kept here.

-- +goose Up
CREATE TABLE status_callbacks (
    sid        TEXT NOT NULL,
    status     TEXT NOT NULL,
    error_code TEXT NOT NULL,
    at         TEXT,
    PRIMARY KEY (sid, status)
);

-- +goose Down
DROP TABLE status_callbacks;
