package storage

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/shortcode/shortcode/donation"
	"github.com/shortcode/shortcode/donation/treasury"
)

// Evidence returns one donation with its evidence, or an error wrapping
// donation.ErrNotFound.
func (db *DB) Evidence(ctx context.Context, id string) (treasury.Evidence, error) {
	rows, err := donationRows(ctx, db.db, `id = ?`, id)
	if err != nil {
		return treasury.Evidence{}, fmt.Errorf("donation %s: %w", id, err)
	}
	if len(rows) == 0 {
		return treasury.Evidence{}, fmt.Errorf("donation %s: %w", id, donation.ErrNotFound)
	}
	es, err := db.evidence(ctx, rows)
	if err != nil {
		return treasury.Evidence{}, fmt.Errorf("donation %s: %w", id, err)
	}
	return es[0], nil
}

// receivedOrCreated is when a donation counts for a date range: its date of
// receipt, or, never received, when it was created.
const receivedOrCreated = `COALESCE(received_at, created_at, '')`

// FindDonations returns the donations q selects with their evidence,
// oldest first, at most q.Limit (treasury.DefaultLimit when zero,
// treasury.MaxLimit at most).
func (db *DB) FindDonations(ctx context.Context, q treasury.Query) ([]treasury.Evidence, error) {
	where, args := []string{`1 = 1`}, []any{}
	switch {
	case q.Phone != "" && q.Masked:
		// A masked digit is any one character: LIKE's "_". The pattern
		// has only digits, "+" and "*" (treasury.ParsePhoneQuery).
		where, args = append(where, `phone LIKE ?`), append(args, strings.ReplaceAll(q.Phone, "*", "_"))
	case q.Phone != "":
		where, args = append(where, `phone = ?`), append(args, q.Phone)
	}
	if q.CommitteeID != "" {
		where, args = append(where, `committee_id = ?`), append(args, q.CommitteeID)
	}
	if !q.From.IsZero() {
		where, args = append(where, receivedOrCreated+` >= ?`), append(args, stamp(q.From))
	}
	if !q.To.IsZero() {
		where, args = append(where, receivedOrCreated+` < ?`), append(args, stamp(q.To))
	}
	limit := q.Limit
	if limit <= 0 {
		limit = treasury.DefaultLimit
	}
	limit = min(limit, treasury.MaxLimit)
	rows, err := donationRows(ctx, db.db, strings.Join(where, ` AND `)+` ORDER BY `+receivedOrCreated+`, id LIMIT ?`, append(args, limit)...)
	if err != nil {
		return nil, fmt.Errorf("find donations: %w", err)
	}
	es, err := db.evidence(ctx, rows)
	if err != nil {
		return nil, fmt.Errorf("find donations: %w", err)
	}
	return es, nil
}

// evidenceBatch bounds the ids of one IN list.
const evidenceBatch = 500

// evidence adds to each donation its certification record and refunds.
func (db *DB) evidence(ctx context.Context, rows []donationRow) ([]treasury.Evidence, error) {
	out := make([]treasury.Evidence, len(rows))
	at := make(map[string]int, len(rows))
	for i, r := range rows {
		out[i] = treasury.Evidence{Donation: r.donation(), RemittedAt: time.Time(r.RemittedAt), RemittedNet: r.RemittedNet, ForwardID: r.ForwardID}
		at[r.ID] = i
	}
	for start := 0; start < len(rows); start += evidenceBatch {
		ids := make([]string, 0, evidenceBatch)
		for _, r := range rows[start:min(start+evidenceBatch, len(rows))] {
			ids = append(ids, r.ID)
		}
		where, args, err := sqlx.In(`q.donation_id IN (?)`, ids)
		if err != nil {
			return nil, err
		}
		cs, err := selectCertifications(ctx, db.db, where, args...)
		if err != nil {
			return nil, fmt.Errorf("certifications: %w", err)
		}
		for _, c := range cs {
			e := &out[at[c.DonationID]]
			e.Certification, e.CertificationSeq = &c.Certification, c.Seq // the last one dated it
		}
		where, args, err = sqlx.In(`donation_id IN (?) ORDER BY requested_at, id`, ids)
		if err != nil {
			return nil, err
		}
		rs, err := selectRefunds(ctx, db.db, where, args...)
		if err != nil {
			return nil, fmt.Errorf("refunds: %w", err)
		}
		for _, r := range rs {
			e := &out[at[r.DonationID]]
			e.Refunds = append(e.Refunds, r)
		}
	}
	return out, nil
}
