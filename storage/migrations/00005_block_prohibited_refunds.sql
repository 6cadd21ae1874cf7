-- A prohibited source is blocklisted as its refund is recorded (SPEC §6.4).
-- It used to be only once the carrier refunded: block the numbers of the
-- prohibited refunds recorded before, refused or still posted.

-- +goose Up
INSERT INTO blocklist (committee_id, phone, reason, source, at)
SELECT committee_id, phone, 'prohibited source', 'refund ' || id, requested_at
FROM refunds WHERE reason = 'prohibited'
ON CONFLICT (committee_id, phone) DO NOTHING;

-- +goose Down
-- Nothing: these entries are as binding as those written since.
