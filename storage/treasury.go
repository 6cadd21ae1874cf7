package storage

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/shortcode/shortcode/compliance"
	"github.com/shortcode/shortcode/donation"
	"github.com/shortcode/shortcode/donation/treasury"
)

var _ treasury.Store = (*DB)(nil)

// Donation returns one donation by id, or an error wrapping
// donation.ErrNotFound.
func (db *DB) Donation(ctx context.Context, id string) (donation.Donation, error) {
	var r donationRow
	err := db.db.GetContext(ctx, &r, db.rebind(`SELECT `+donationColumns+` FROM donations WHERE id = ?`), id)
	if err != nil {
		return donation.Donation{}, fmt.Errorf("donation %s: %w", id, notFound(err))
	}
	return r.donation(), nil
}

// Committee returns a committee's configuration, or an error wrapping
// donation.ErrNotFound.
func (db *DB) Committee(ctx context.Context, id string) (compliance.Committee, error) {
	var config string
	if err := db.db.GetContext(ctx, &config, db.rebind(`SELECT config FROM committees WHERE id = ?`), id); err != nil {
		return compliance.Committee{}, fmt.Errorf("committee %s: %w", id, notFound(err))
	}
	var c compliance.Committee
	if err := json.Unmarshal([]byte(config), &c); err != nil {
		return c, fmt.Errorf("committee %s: %w", id, err)
	}
	return c, nil
}

// inPhoneTx runs fn in a transaction holding the phone number's lock, the
// same lock as Update, so that refunds serialise with the conversation.
func (db *DB) inPhoneTx(ctx context.Context, phone string, fn func(*sqlx.Tx) error) error {
	stx, err := db.begin(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = stx.Rollback() }() // no-op after Commit
	if err := db.lockPhone(ctx, stx, phone); err != nil {
		return fmt.Errorf("lock: %w", err)
	}
	if err := fn(stx); err != nil {
		return err
	}
	return stx.Commit()
}

func execIn(ctx context.Context, stx *sqlx.Tx, q string, args ...any) (int64, error) {
	res, err := stx.ExecContext(ctx, stx.Rebind(q), args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// BeginRefund records r as posted after check approves its donation, read
// under the donor's lock; a live refund of the donation fails with
// treasury.ErrRefundInProgress. A prohibited source is blocklisted for the
// committee in the same transaction: the source is known now, whatever
// becomes of the refund (refused, unknown, never posted after a crash).
func (db *DB) BeginRefund(ctx context.Context, r treasury.Refund, check func(donation.Donation) error) error {
	return db.inPhoneTx(ctx, r.Phone, func(stx *sqlx.Tx) error {
		var dr donationRow
		if err := stx.GetContext(ctx, &dr, stx.Rebind(`SELECT `+donationColumns+` FROM donations WHERE id = ?`), r.DonationID); err != nil {
			return fmt.Errorf("donation %s: %w", r.DonationID, notFound(err))
		}
		if err := check(dr.donation()); err != nil {
			return err
		}
		var live int
		if err := stx.GetContext(ctx, &live, stx.Rebind(`SELECT COUNT(*) FROM refunds WHERE donation_id = ? AND status <> ?`),
			r.DonationID, string(treasury.Refused)); err != nil {
			return err
		}
		if live > 0 {
			return fmt.Errorf("donation %s: %w", r.DonationID, treasury.ErrRefundInProgress)
		}
		_, err := execIn(ctx, stx, `INSERT INTO refunds (id, donation_id, phone, committee_id, carrier, amount, reason,
				status, correlator, requested_at, discovered_at, deadline, attempts, next_attempt_at,
				server_ref, decline_code, decline_reason, finished_at, actor)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			r.ID, r.DonationID, r.Phone, r.CommitteeID, r.Carrier, r.Amount, string(r.Reason),
			string(r.Status), r.Correlator, stamp(r.RequestedAt), stamp(r.DiscoveredAt), stamp(r.Deadline),
			r.Attempts, stamp(r.NextAttemptAt), r.ServerRef, r.DeclineCode, r.DeclineReason, stamp(r.FinishedAt), r.Actor)
		if err != nil || r.Reason != treasury.Prohibited {
			return err
		}
		_, err = execIn(ctx, stx, `INSERT INTO blocklist (committee_id, phone, reason, source, at)
			VALUES (?, ?, ?, ?, ?) ON CONFLICT (committee_id, phone) DO NOTHING`,
			r.CommitteeID, r.Phone, "prohibited source", "refund "+r.ID, stamp(r.RequestedAt))
		return err
	})
}

// FinishRefund records a posted refund's final status. A refunded one marks
// the donation refunded: it then counts nothing against the caps.
func (db *DB) FinishRefund(ctx context.Context, r treasury.Refund) error {
	return db.inPhoneTx(ctx, r.Phone, func(stx *sqlx.Tx) error {
		n, err := execIn(ctx, stx, `UPDATE refunds SET status = ?, server_ref = ?, decline_code = ?, decline_reason = ?,
				finished_at = ?, attempts = ? WHERE id = ? AND status = ?`,
			string(r.Status), r.ServerRef, r.DeclineCode, r.DeclineReason, stamp(r.FinishedAt), r.Attempts,
			r.ID, string(treasury.Posted))
		if err != nil {
			return err
		}
		if n == 0 || r.Status != treasury.Refunded {
			return nil // recorded already, by another attempt; or refused
		}
		_, err = execIn(ctx, stx, `UPDATE donations SET refunded_at = ? WHERE id = ?`, stamp(r.FinishedAt), r.DonationID)
		return err
	})
}

// RetryRefund counts an attempt with an unknown outcome.
func (db *DB) RetryRefund(ctx context.Context, id string, attempts int, next time.Time) error {
	_, err := db.db.ExecContext(ctx, db.rebind(`UPDATE refunds SET attempts = ?, next_attempt_at = ? WHERE id = ? AND status = ?`),
		attempts, stamp(next), id, string(treasury.Posted))
	if err != nil {
		return fmt.Errorf("refund %s: retry: %w", id, err)
	}
	return nil
}

const refundColumns = `id, donation_id, phone, committee_id, carrier, amount, reason, status, correlator,
	requested_at, discovered_at, deadline, attempts, next_attempt_at, server_ref, decline_code,
	decline_reason, finished_at, actor`

type refundRow struct {
	ID            string `db:"id"`
	DonationID    string `db:"donation_id"`
	Phone         string `db:"phone"`
	CommitteeID   string `db:"committee_id"`
	Carrier       string `db:"carrier"`
	Amount        int64  `db:"amount"`
	Reason        string `db:"reason"`
	Status        string `db:"status"`
	Correlator    string `db:"correlator"`
	RequestedAt   stamp  `db:"requested_at"`
	DiscoveredAt  stamp  `db:"discovered_at"`
	Deadline      stamp  `db:"deadline"`
	Attempts      int    `db:"attempts"`
	NextAttemptAt stamp  `db:"next_attempt_at"`
	ServerRef     string `db:"server_ref"`
	DeclineCode   string `db:"decline_code"`
	DeclineReason string `db:"decline_reason"`
	FinishedAt    stamp  `db:"finished_at"`
	Actor         string `db:"actor"`
}

func (r refundRow) refund() treasury.Refund {
	return treasury.Refund{
		ID: r.ID, DonationID: r.DonationID, Phone: r.Phone, CommitteeID: r.CommitteeID, Carrier: r.Carrier,
		Amount: r.Amount, Reason: treasury.Reason(r.Reason), Status: treasury.RefundStatus(r.Status),
		Correlator: r.Correlator, RequestedAt: time.Time(r.RequestedAt), DiscoveredAt: time.Time(r.DiscoveredAt),
		Deadline: time.Time(r.Deadline), Attempts: r.Attempts, NextAttemptAt: time.Time(r.NextAttemptAt),
		ServerRef: r.ServerRef, DeclineCode: r.DeclineCode, DeclineReason: r.DeclineReason,
		FinishedAt: time.Time(r.FinishedAt), Actor: r.Actor,
	}
}

func (db *DB) refunds(ctx context.Context, q sqlx.QueryerContext, where string, args ...any) ([]treasury.Refund, error) {
	var rows []refundRow
	if err := sqlx.SelectContext(ctx, q, &rows, db.rebind(`SELECT `+refundColumns+` FROM refunds WHERE `+where), args...); err != nil {
		return nil, err
	}
	out := make([]treasury.Refund, 0, len(rows))
	for _, r := range rows {
		out = append(out, r.refund())
	}
	return out, nil
}

// PendingRefunds returns posted refunds due at now.
func (db *DB) PendingRefunds(ctx context.Context, now time.Time) ([]treasury.Refund, error) {
	rs, err := db.refunds(ctx, db.db, `status = ? AND next_attempt_at <= ? ORDER BY next_attempt_at, id`, string(treasury.Posted), stamp(now))
	if err != nil {
		return nil, fmt.Errorf("pending refunds: %w", err)
	}
	return rs, nil
}

// Refunds lists a committee's refunds ("" for all), oldest first.
func (db *DB) Refunds(ctx context.Context, committeeID string) ([]treasury.Refund, error) {
	where, args := committeeFilter(committeeID)
	rs, err := db.refunds(ctx, db.db, where+` ORDER BY requested_at, id`, args...)
	if err != nil {
		return nil, fmt.Errorf("refunds: %w", err)
	}
	return rs, nil
}

// ImportSettlement stores every line of f with match's verdict, and records
// remittance (date, net, the carrier's actual fee) for cleanly matched paid
// lines, all in one transaction. A file imported before changes nothing.
func (db *DB) ImportSettlement(ctx context.Context, f treasury.SettlementFile, now time.Time, match func(treasury.Line, *donation.Donation, *treasury.Refund, bool) string) (treasury.Report, error) {
	rep := treasury.Report{File: f.Name, Carrier: f.Carrier, SHA256: f.SHA256}
	stx, err := db.begin(ctx)
	if err != nil {
		return rep, err
	}
	defer func() { _ = stx.Rollback() }()
	n, err := execIn(ctx, stx, `INSERT INTO settlement_files (sha256, carrier, name, lines, imported_at)
		VALUES (?, ?, ?, ?, ?) ON CONFLICT (sha256) DO NOTHING`, f.SHA256, f.Carrier, f.Name, len(f.Lines), stamp(now))
	if err != nil {
		return rep, fmt.Errorf("settlement %s: %w", f.Name, err)
	}
	if n == 0 {
		rep.AlreadyImported = true
		return rep, nil
	}
	seen := map[string]bool{}
	for _, l := range f.Lines {
		var d *donation.Donation
		var dr donationRow
		err := stx.GetContext(ctx, &dr, stx.Rebind(`SELECT `+donationColumns+` FROM donations WHERE id = ?`), l.Reference)
		if err == nil {
			dd := dr.donation()
			d = &dd
		} else if !errors.Is(notFound(err), donation.ErrNotFound) {
			return rep, fmt.Errorf("settlement %s line %d: %w", f.Name, l.No, err)
		}
		var r *treasury.Refund
		rs, err := db.refunds(ctx, stx, `id = ?`, l.Reference)
		if err != nil {
			return rep, fmt.Errorf("settlement %s line %d: %w", f.Name, l.No, err)
		}
		if len(rs) == 1 {
			r = &rs[0]
		}
		var before int
		if err := stx.GetContext(ctx, &before, stx.Rebind(`SELECT COUNT(*) FROM settlement_lines
			WHERE carrier = ? AND server_ref = ? AND problem = ''`), f.Carrier, l.ServerRef); err != nil {
			return rep, fmt.Errorf("settlement %s line %d: %w", f.Name, l.No, err)
		}
		problem := match(l, d, r, before > 0 || seen[l.ServerRef])
		res := treasury.LineResult{Line: l, Problem: problem}
		if d != nil {
			res.DonationID = d.ID
		}
		if r != nil {
			res.RefundID = r.ID
		}
		if _, err := execIn(ctx, stx, `INSERT INTO settlement_lines (file_sha256, line_no, carrier, server_ref, reference,
				charged_at, gross, carrier_fee, net, status, donation_id, refund_id, problem)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			f.SHA256, l.No, f.Carrier, l.ServerRef, l.Reference, stamp(l.ChargedAt), l.Gross, l.CarrierFee, l.Net,
			l.Status, res.DonationID, res.RefundID, problem); err != nil {
			return rep, fmt.Errorf("settlement %s line %d: %w", f.Name, l.No, err)
		}
		rep.Lines = append(rep.Lines, res)
		if problem != "" {
			rep.Problems++
			continue
		}
		rep.Matched++
		seen[l.ServerRef] = true
		if l.Status == treasury.Paid {
			rep.Remitted += l.Net
			if d != nil {
				if _, err := execIn(ctx, stx, `UPDATE donations SET remitted_at = ?, remitted_net = ?, carrier_fee = ? WHERE id = ?`,
					stamp(now), l.Net, l.CarrierFee, d.ID); err != nil {
					return rep, fmt.Errorf("settlement %s line %d: %w", f.Name, l.No, err)
				}
			}
		}
	}
	if err := stx.Commit(); err != nil {
		return rep, fmt.Errorf("settlement %s: commit: %w", f.Name, err)
	}
	return rep, nil
}

// unforwarded is the condition of contributions not yet forwarded.
const unforwarded = `status = 'completed' AND refunded_at IS NULL AND forward_id = ''`

// RecordForward marks a committee's unforwarded contributions received
// before f.Through as forwarded by f, in one transaction.
func (db *DB) RecordForward(ctx context.Context, f treasury.Forward, check func(treasury.Forward) error) (treasury.Forward, error) {
	stx, err := db.begin(ctx)
	if err != nil {
		return f, err
	}
	defer func() { _ = stx.Rollback() }()
	var sum struct {
		Count  int   `db:"n"`
		Amount int64 `db:"total"`
	}
	where := `committee_id = ? AND received_at < ? AND ` + unforwarded
	if err := stx.GetContext(ctx, &sum, stx.Rebind(`SELECT COUNT(*) AS n, COALESCE(SUM(amount), 0) AS total FROM donations WHERE `+where),
		f.CommitteeID, stamp(f.Through)); err != nil {
		return f, fmt.Errorf("forward: %w", err)
	}
	f.Count, f.Amount = sum.Count, sum.Amount
	if err := check(f); err != nil {
		return f, err
	}
	n, err := execIn(ctx, stx, `UPDATE donations SET forward_id = ? WHERE `+where, f.ID, f.CommitteeID, stamp(f.Through))
	if err != nil {
		return f, fmt.Errorf("forward: %w", err)
	}
	if n != int64(f.Count) {
		return f, fmt.Errorf("forward: %d contributions changed while recording %d; nothing recorded", n, f.Count)
	}
	if _, err := execIn(ctx, stx, `INSERT INTO forwards (id, committee_id, amount, count, through, at, reference, actor)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, f.ID, f.CommitteeID, f.Amount, f.Count, stamp(f.Through), stamp(f.At), f.Reference, f.Actor); err != nil {
		return f, fmt.Errorf("forward: %w", err)
	}
	if err := stx.Commit(); err != nil {
		return f, fmt.Errorf("forward: commit: %w", err)
	}
	return f, nil
}

// Unforwarded returns completed, unrefunded contributions not yet forwarded,
// of one committee or ("" ) all, oldest receipt first.
func (db *DB) Unforwarded(ctx context.Context, committeeID string) ([]donation.Donation, error) {
	where, args := committeeFilter(committeeID)
	ds, err := db.donations(ctx, where+` AND `+unforwarded+` ORDER BY received_at, id`, args...)
	if err != nil {
		return nil, fmt.Errorf("unforwarded contributions: %w", err)
	}
	return ds, nil
}

// LogAction appends to the action log.
func (db *DB) LogAction(ctx context.Context, at time.Time, actor, action, detail string) error {
	_, err := db.db.ExecContext(ctx, db.rebind(`INSERT INTO actions (id, at, actor, action, detail) VALUES (?, ?, ?, ?, ?)`),
		orderedID(nanosOf(at), 0), stamp(at), actor, action, detail)
	if err != nil {
		return fmt.Errorf("log action %s: %w", action, err)
	}
	return nil
}

// committeeFilter selects one committee's rows, or every row for "".
func committeeFilter(committeeID string) (string, []any) {
	if committeeID == "" {
		return `1 = 1`, nil
	}
	return `committee_id = ?`, []any{committeeID}
}
