package storage

import (
	"context"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/shortcode/shortcode/donation"
)

// SetRefundedForTest marks a donation refunded, which only the refund
// feature (not yet written) does otherwise.
func (db *DB) SetRefundedForTest(ctx context.Context, id string, at time.Time) error {
	_, err := db.db.ExecContext(ctx, db.rebind(`UPDATE donations SET refunded_at = ? WHERE id = ?`), stamp(at), id)
	return err
}

// MigrateDownForTest undoes the migrations after version.
func (db *DB) MigrateDownForTest(ctx context.Context, version int64) error {
	p, err := db.migrations()
	if err != nil {
		return err
	}
	_, err = p.DownTo(ctx, version)
	return err
}

// UnblockForTest empties the blocklist.
func (db *DB) UnblockForTest(ctx context.Context) error {
	_, err := db.db.ExecContext(ctx, `DELETE FROM blocklist`)
	return err
}

// ExecForTest runs a statement, as a person with database access could.
func (db *DB) ExecForTest(ctx context.Context, q string) error {
	_, err := db.db.ExecContext(ctx, q)
	return err
}

// ConnForTest pins one pooled connection, rebinding ? to the store's
// placeholders, so that a test sees what that connection keeps.
func (db *DB) ConnForTest(ctx context.Context) (*sqlx.Conn, func(string) string, error) {
	c, err := db.db.Connx(ctx)
	return c, db.rebind, err
}

// MarkSent is MarkAllSent for one MT, with an error wrapping
// donation.ErrNotFound when it had left the queue: the sender writes its
// marks in batches, tests one at a time.
func (db *DB) MarkSent(ctx context.Context, id, sid string, now time.Time) error {
	gone, err := db.MarkAllSent(ctx, []donation.SentMT{{ID: id, SID: sid}}, now)
	if err == nil && len(gone) > 0 {
		err = fmt.Errorf("mark MT %s sent: %w", id, donation.ErrNotFound)
	}
	return err
}
