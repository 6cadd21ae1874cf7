package storage

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/shortcode/shortcode/compliance"
	"github.com/shortcode/shortcode/donation/report"
	"github.com/shortcode/shortcode/donation/treasury"
)

var _ report.Source = (*DB)(nil)

// reportPage is how many contributions one query of Contributions reads.
// Between pages no connection is held, so that an export read slowly by
// its client never keeps SQLite's one connection from the donors.
const reportPage = 500

// contributionRow is one row of the contributions query.
type contributionRow struct {
	ID            string         `db:"id"`
	ProgramID     string         `db:"program_id"`
	Phone         string         `db:"phone"`
	Amount        int64          `db:"amount"`
	ReceivedAt    stamp          `db:"received_at"`
	Carrier       string         `db:"carrier"`
	ServerRef     string         `db:"server_ref"`
	CarrierFee    int64          `db:"carrier_fee"`
	AggregatorFee int64          `db:"aggregator_fee"`
	RemittedAt    stamp          `db:"remitted_at"`
	RemittedNet   int64          `db:"remitted_net"`
	ForwardedAt   stamp          `db:"forwarded_at"`
	LogIndex      sql.NullInt64  `db:"log_idx"`
	Settled       sql.NullString `db:"settled"`
	RefundID      sql.NullString `db:"refund_id"`
}

// Contributions calls fn with each completed donation of a committee
// received in [from, to), oldest receipt first, a page at a time. A
// contribution recorded or changed while the pages are read is seen as
// its page found it.
func (db *DB) Contributions(ctx context.Context, committeeID string, from, to time.Time, fn func(report.Row) error) error {
	// Keyset pages: after (received_at, id); the first page starts at
	// from with every id after "".
	afterAt, afterID := stamp(from), ""
	for {
		var rows []contributionRow
		// A settled contribution has one cleanly matched line of a donation
		// (not of its refund); its status says what the carrier did.
		err := db.db.SelectContext(ctx, &rows, db.rebind(`SELECT d.id, d.program_id, d.phone, d.amount, d.received_at,
				d.carrier, d.server_ref, d.carrier_fee, d.aggregator_fee, d.remitted_at, d.remitted_net,
				f.at AS forwarded_at,
				(SELECT MAX(l.idx) FROM cert_queue q JOIN cert_log l ON l.queue_id = q.id WHERE q.donation_id = d.id) AS log_idx,
				(SELECT MAX(s.status) FROM settlement_lines s WHERE s.donation_id = d.id AND s.refund_id = '' AND s.problem = '') AS settled,
				(SELECT MAX(r.id) FROM refunds r WHERE r.donation_id = d.id AND r.status <> 'refused') AS refund_id
			FROM donations d LEFT JOIN forwards f ON f.id = d.forward_id
			WHERE d.committee_id = ? AND d.status = 'completed' AND d.received_at < ?
				AND (d.received_at > ? OR (d.received_at = ? AND d.id > ?))
			ORDER BY d.received_at, d.id LIMIT ?`),
			committeeID, stamp(to), afterAt, afterAt, afterID, reportPage)
		if err != nil {
			return fmt.Errorf("contributions of %s: %w", committeeID, err)
		}
		refunds, err := db.refundsByID(ctx, rows)
		if err != nil {
			return fmt.Errorf("contributions of %s: %w", committeeID, err)
		}
		for _, r := range rows {
			if err := fn(r.row(refunds)); err != nil {
				return err
			}
		}
		if len(rows) < reportPage {
			return nil
		}
		last := rows[len(rows)-1]
		afterAt, afterID = last.ReceivedAt, last.ID
	}
}

// refundsByID reads the live refunds a page of contributions names.
func (db *DB) refundsByID(ctx context.Context, rows []contributionRow) (map[string]treasury.Refund, error) {
	var ids []any
	marks := ""
	for _, r := range rows {
		if r.RefundID.Valid {
			if ids != nil {
				marks += ", "
			}
			ids, marks = append(ids, r.RefundID.String), marks+"?"
		}
	}
	if ids == nil {
		return nil, nil
	}
	rs, err := selectRefunds(ctx, db.db, `id IN (`+marks+`)`, ids...)
	if err != nil {
		return nil, fmt.Errorf("refunds: %w", err)
	}
	out := make(map[string]treasury.Refund, len(rs))
	for _, r := range rs {
		out[r.ID] = r
	}
	return out, nil
}

func (r contributionRow) row(refunds map[string]treasury.Refund) report.Row {
	out := report.Row{
		ID: r.ID, ProgramID: r.ProgramID, Phone: r.Phone, Amount: r.Amount, ReceivedAt: time.Time(r.ReceivedAt),
		Carrier: r.Carrier, ChargeRef: r.ServerRef, CarrierFee: r.CarrierFee, AggregatorFee: r.AggregatorFee,
		RemittedAt: time.Time(r.RemittedAt), RemittedNet: r.RemittedNet, ForwardedAt: time.Time(r.ForwardedAt),
		Settlement: report.Receivable,
	}
	if r.LogIndex.Valid {
		out.CertificationSeq = r.LogIndex.Int64 + 1
	}
	switch r.Settled.String {
	case treasury.Paid:
		out.Settlement = report.Remitted
	case treasury.WrittenOff:
		out.Settlement = report.WrittenOff
	case treasury.Disputed:
		out.Settlement = report.Disputed
	}
	if f, ok := refunds[r.RefundID.String]; ok && r.RefundID.Valid {
		out.Refund = &f
	}
	return out
}

var _ report.Contributors = (*DB)(nil)

// Contributor returns a contributor identified to a committee, by phone
// number, or an error wrapping donation.ErrNotFound.
func (db *DB) Contributor(ctx context.Context, committeeID, phone string) (report.Contributor, error) {
	var details string
	err := db.db.GetContext(ctx, &details, db.rebind(`SELECT details FROM contributors WHERE committee_id = ? AND phone = ?`), committeeID, phone)
	if err != nil {
		return report.Contributor{}, fmt.Errorf("contributor %s: %w", compliance.MaskPhone(phone), notFound(err))
	}
	var c report.Contributor
	if err := json.Unmarshal([]byte(details), &c); err != nil {
		return c, fmt.Errorf("contributor %s: %w", compliance.MaskPhone(phone), err)
	}
	return c, nil
}

// SaveContributor records who a phone number's contributor to a committee
// is, replacing what was recorded.
func (db *DB) SaveContributor(ctx context.Context, committeeID, phone string, c report.Contributor, at time.Time) error {
	b, err := json.Marshal(c)
	if err != nil {
		return err
	}
	_, err = db.db.ExecContext(ctx, db.rebind(`INSERT INTO contributors (committee_id, phone, details, updated_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (committee_id, phone) DO UPDATE SET details = excluded.details, updated_at = excluded.updated_at`),
		committeeID, phone, string(b), stamp(at))
	if err != nil {
		return fmt.Errorf("save contributor %s: %w", compliance.MaskPhone(phone), err)
	}
	return nil
}
