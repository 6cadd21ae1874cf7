package storage

import (
	"context"
	"fmt"
	"time"

	"github.com/shortcode/shortcode/compliance"
)

// Block puts a number on a committee's blocklist (committeeID "" for the
// global one); blocking it again changes nothing.
func (db *DB) Block(ctx context.Context, committeeID, phone, reason, source string) error {
	_, err := db.db.ExecContext(ctx, db.rebind(`INSERT INTO blocklist (committee_id, phone, reason, source, at)
		VALUES (?, ?, ?, ?, ?) ON CONFLICT (committee_id, phone) DO NOTHING`),
		committeeID, phone, reason, source, stamp(time.Now().UTC()))
	if err != nil {
		return fmt.Errorf("block %s for %q: %w", compliance.MaskPhone(phone), committeeID, err)
	}
	return nil
}
