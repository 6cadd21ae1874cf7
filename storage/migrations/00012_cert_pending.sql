-- The certifications still waiting for the log's sequencer, by queue id:
-- the sequencer reads its next batch here rather than scanning the whole
-- queue against the log, so a batch costs the same however long the log
-- grows. Not evidence (rows leave it as they are integrated), so not
-- append-only.

-- +goose Up
CREATE TABLE cert_pending (
    queue_id TEXT NOT NULL PRIMARY KEY
);
INSERT INTO cert_pending (queue_id)
    SELECT q.id FROM cert_queue q WHERE NOT EXISTS (SELECT 1 FROM cert_log l WHERE l.queue_id = q.id);

-- +goose Down
DROP TABLE cert_pending;
