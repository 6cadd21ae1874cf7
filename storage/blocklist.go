package storage

import (
	"context"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/shortcode/shortcode/compliance"
	"github.com/shortcode/shortcode/donation/treasury"
)

// Block puts a number on a committee's blocklist (committeeID "" for the
// global one); blocking it again changes nothing. It logs no action: people
// block numbers through treasury.Service.Block.
func (db *DB) Block(ctx context.Context, committeeID, phone, reason, source string) error {
	_, err := db.db.ExecContext(ctx, db.rebind(`INSERT INTO blocklist (committee_id, phone, reason, source, at)
		VALUES (?, ?, ?, ?, ?) ON CONFLICT (committee_id, phone) DO NOTHING`),
		committeeID, phone, reason, source, stamp(time.Now().UTC()))
	if err != nil {
		return fmt.Errorf("block %s for %q: %w", compliance.MaskPhone(phone), committeeID, err)
	}
	return nil
}

// Blocklist lists a committee's blocklist ("" for every entry, the global
// ones included), oldest first.
func (db *DB) Blocklist(ctx context.Context, committeeID string) ([]treasury.Block, error) {
	where, args := committeeFilter(committeeID)
	bs, err := selectBlocks(ctx, db.db, where+` ORDER BY at, committee_id, phone`, args...)
	if err != nil {
		return nil, fmt.Errorf("blocklist: %w", err)
	}
	return bs, nil
}

// selectBlocks is the one query of the blocklist.
func selectBlocks(ctx context.Context, q sqlx.ExtContext, where string, args ...any) ([]treasury.Block, error) {
	var rows []struct {
		CommitteeID string `db:"committee_id"`
		Phone       string `db:"phone"`
		Reason      string `db:"reason"`
		Source      string `db:"source"`
		At          stamp  `db:"at"`
	}
	if err := sqlx.SelectContext(ctx, q, &rows, q.Rebind(`SELECT committee_id, phone, reason, source, at FROM blocklist WHERE `+where), args...); err != nil {
		return nil, err
	}
	out := make([]treasury.Block, 0, len(rows))
	for _, r := range rows {
		out = append(out, treasury.Block{CommitteeID: r.CommitteeID, Phone: r.Phone, Reason: r.Reason, Source: r.Source, At: time.Time(r.At)})
	}
	return out, nil
}
