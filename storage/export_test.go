package storage

import (
	"context"
	"time"

	"github.com/jmoiron/sqlx"
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
