package storage

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/shortcode/shortcode/compliance"
	"github.com/shortcode/shortcode/donation"
	"github.com/shortcode/shortcode/donation/treasury"
)

var (
	_ treasury.Store = Treasury{}
	_ treasury.Tx    = (*treasuryTx)(nil)
)

// Treasury is db as donation/treasury's store: its Update runs treasury
// transactions. The DB's own Update runs the conversation's.
type Treasury struct{ *DB }

// Treasury returns db as the treasury's store.
func (db *DB) Treasury() Treasury { return Treasury{db} }

// Update runs fn in one transaction and commits when fn returns nil; an
// error from fn, or a panic, rolls back. A non-empty phone takes that
// number's lock first, the lock of DB.Update. As there, fn must use only
// the Tx it is given.
func (t Treasury) Update(ctx context.Context, phone string, fn func(treasury.Tx) error) error {
	return t.inTx(ctx, phone, func(stx *sqlx.Tx) error { return fn(&treasuryTx{tx: stx}) })
}

// Donation returns one donation by id, or an error wrapping
// donation.ErrNotFound.
func (db *DB) Donation(ctx context.Context, id string) (donation.Donation, error) {
	return getDonation(ctx, db.db, id)
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

// treasuryTx is treasury.Tx over one transaction of Treasury.Update.
type treasuryTx struct {
	tx *sqlx.Tx
}

func (t *treasuryTx) exec(ctx context.Context, q string, args ...any) (int64, error) {
	res, err := t.tx.ExecContext(ctx, t.tx.Rebind(q), args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// Donation returns one donation by id, or an error wrapping
// donation.ErrNotFound.
func (t *treasuryTx) Donation(ctx context.Context, id string) (donation.Donation, error) {
	return getDonation(ctx, t.tx, id)
}

// Refund returns one refund by id, or an error wrapping donation.ErrNotFound.
func (t *treasuryTx) Refund(ctx context.Context, id string) (treasury.Refund, error) {
	rs, err := selectRefunds(ctx, t.tx, `id = ?`, id)
	switch {
	case err != nil:
		return treasury.Refund{}, fmt.Errorf("refund %s: %w", id, err)
	case len(rs) == 0:
		return treasury.Refund{}, fmt.Errorf("refund %s: %w", id, donation.ErrNotFound)
	}
	return rs[0], nil
}

// RefundsOf returns a donation's refunds, oldest first.
func (t *treasuryTx) RefundsOf(ctx context.Context, donationID string) ([]treasury.Refund, error) {
	rs, err := selectRefunds(ctx, t.tx, `donation_id = ? ORDER BY requested_at, id`, donationID)
	if err != nil {
		return nil, fmt.Errorf("refunds of %s: %w", donationID, err)
	}
	return rs, nil
}

// Imported tells whether the settlement file with this SHA-256 was imported.
func (t *treasuryTx) Imported(ctx context.Context, sha256 string) (bool, error) {
	var n int
	if err := t.tx.GetContext(ctx, &n, t.tx.Rebind(`SELECT COUNT(*) FROM settlement_files WHERE sha256 = ?`), sha256); err != nil {
		return false, fmt.Errorf("settlement file %s: %w", sha256, err)
	}
	return n > 0, nil
}

// Settled tells whether an imported line settled the server reference
// cleanly.
func (t *treasuryTx) Settled(ctx context.Context, carrier, serverRef string) (bool, error) {
	var n int
	if err := t.tx.GetContext(ctx, &n, t.tx.Rebind(`SELECT COUNT(*) FROM settlement_lines
		WHERE carrier = ? AND server_ref = ? AND problem = ''`), carrier, serverRef); err != nil {
		return false, fmt.Errorf("settled %s: %w", serverRef, err)
	}
	return n > 0, nil
}

// Unforwarded returns a committee's completed, unrefunded contributions
// not yet forwarded ("" for all), oldest receipt first.
func (t *treasuryTx) Unforwarded(ctx context.Context, committeeID string) ([]donation.Donation, error) {
	return unforwarded(ctx, t.tx, committeeID)
}

// BlockEntry returns a number's entry on a blocklist, or an error wrapping
// donation.ErrNotFound.
func (t *treasuryTx) BlockEntry(ctx context.Context, committeeID, phone string) (treasury.Block, error) {
	bs, err := selectBlocks(ctx, t.tx, `committee_id = ? AND phone = ?`, committeeID, phone)
	switch {
	case err != nil:
		return treasury.Block{}, err
	case len(bs) == 0:
		return treasury.Block{}, donation.ErrNotFound
	}
	return bs[0], nil
}

// Apply writes a treasury step's change, its action-log row included.
func (t *treasuryTx) Apply(ctx context.Context, c treasury.Change) error {
	if r := c.Refund; r != nil {
		if err := t.putRefund(ctx, *r); err != nil {
			return fmt.Errorf("refund %s: %w", r.ID, err)
		}
		if c.Refunded {
			if _, err := t.exec(ctx, `UPDATE donations SET refunded_at = ? WHERE id = ?`, stamp(r.FinishedAt), r.DonationID); err != nil {
				return fmt.Errorf("donation %s: refunded: %w", r.DonationID, err)
			}
		}
	}
	if b := c.Block; b != nil {
		if _, err := t.exec(ctx, `INSERT INTO blocklist (committee_id, phone, reason, source, at)
			VALUES (?, ?, ?, ?, ?) ON CONFLICT (committee_id, phone) DO NOTHING`,
			b.CommitteeID, b.Phone, b.Reason, b.Source, stamp(b.At)); err != nil {
			return fmt.Errorf("block %s: %w", compliance.MaskPhone(b.Phone), err)
		}
	}
	if b := c.Unblock; b != nil {
		if _, err := t.exec(ctx, `DELETE FROM blocklist WHERE committee_id = ? AND phone = ?`, b.CommitteeID, b.Phone); err != nil {
			return fmt.Errorf("unblock %s: %w", compliance.MaskPhone(b.Phone), err)
		}
	}
	if imp := c.Import; imp != nil {
		if err := t.putImport(ctx, *imp); err != nil {
			return fmt.Errorf("settlement %s: %w", imp.Report.File, err)
		}
	}
	if f := c.Forward; f != nil {
		if err := t.putForward(ctx, *f, c.Forwarded); err != nil {
			return fmt.Errorf("forward %s: %w", f.ID, err)
		}
	}
	if a := c.Action; a != nil {
		return logAction(ctx, t.tx, a.At, a.Actor, a.Action, a.Detail)
	}
	return nil
}

// putRefund inserts a refund or updates what changes as it moves on.
func (t *treasuryTx) putRefund(ctx context.Context, r treasury.Refund) error {
	_, err := t.exec(ctx, `INSERT INTO refunds (id, donation_id, phone, committee_id, carrier, amount, reason,
			status, correlator, requested_at, discovered_at, deadline, attempts, next_attempt_at,
			server_ref, decline_code, decline_reason, finished_at, actor)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET
			status = excluded.status,
			attempts = excluded.attempts,
			next_attempt_at = excluded.next_attempt_at,
			server_ref = excluded.server_ref,
			decline_code = excluded.decline_code,
			decline_reason = excluded.decline_reason,
			finished_at = excluded.finished_at`,
		r.ID, r.DonationID, r.Phone, r.CommitteeID, r.Carrier, r.Amount, string(r.Reason),
		string(r.Status), r.Correlator, stamp(r.RequestedAt), stamp(r.DiscoveredAt), stamp(r.Deadline),
		r.Attempts, stamp(r.NextAttemptAt), r.ServerRef, r.DeclineCode, r.DeclineReason, stamp(r.FinishedAt), r.Actor)
	return err
}

// putImport stores a settlement file, each of its lines with its verdict,
// and the remittances. A file imported by a transaction that committed
// meanwhile is a conflict, and nothing is written.
func (t *treasuryTx) putImport(ctx context.Context, imp treasury.Import) error {
	rep := imp.Report
	n, err := t.exec(ctx, `INSERT INTO settlement_files (sha256, carrier, name, lines, imported_at)
		VALUES (?, ?, ?, ?, ?) ON CONFLICT (sha256) DO NOTHING`, rep.SHA256, rep.Carrier, rep.File, len(rep.Lines), stamp(imp.At))
	if err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("imported meanwhile: %w", donation.ErrConflict)
	}
	for _, l := range rep.Lines {
		if _, err := t.exec(ctx, `INSERT INTO settlement_lines (file_sha256, line_no, carrier, server_ref, reference,
				charged_at, gross, carrier_fee, net, status, donation_id, refund_id, problem)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			rep.SHA256, l.No, rep.Carrier, l.ServerRef, l.Reference, stamp(l.ChargedAt), l.Gross, l.CarrierFee, l.Net,
			l.Status, l.DonationID, l.RefundID, l.Problem); err != nil {
			return fmt.Errorf("line %d: %w", l.No, err)
		}
	}
	for _, r := range imp.Remittances {
		if _, err := t.exec(ctx, `UPDATE donations SET remitted_at = ?, remitted_net = ?, carrier_fee = ? WHERE id = ?`,
			stamp(r.At), r.Net, r.CarrierFee, r.DonationID); err != nil {
			return fmt.Errorf("remittance of %s: %w", r.DonationID, err)
		}
	}
	return nil
}

// forwardBatch bounds the ids of one UPDATE, well under the drivers'
// limits on parameters.
const forwardBatch = 500

// putForward marks the contributions ids forwarded by f and stores f. One
// of them forwarded by a transaction that committed meanwhile is a
// conflict.
func (t *treasuryTx) putForward(ctx context.Context, f treasury.Forward, ids []string) error {
	var changed int64
	for start := 0; start < len(ids); start += forwardBatch {
		batch := ids[start:min(start+forwardBatch, len(ids))]
		q, args, err := sqlx.In(`UPDATE donations SET forward_id = ? WHERE forward_id = '' AND id IN (?)`, f.ID, batch)
		if err != nil {
			return err
		}
		n, err := t.exec(ctx, q, args...)
		if err != nil {
			return err
		}
		changed += n
	}
	if changed != int64(len(ids)) {
		return fmt.Errorf("%d of %d contributions forwarded meanwhile: %w", int64(len(ids))-changed, len(ids), donation.ErrConflict)
	}
	_, err := t.exec(ctx, `INSERT INTO forwards (id, committee_id, amount, count, through, at, reference, actor)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, f.ID, f.CommitteeID, f.Amount, f.Count, stamp(f.Through), stamp(f.At), f.Reference, f.Actor)
	return err
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

// selectRefunds is the one query of refunds.
func selectRefunds(ctx context.Context, q sqlx.ExtContext, where string, args ...any) ([]treasury.Refund, error) {
	var rows []refundRow
	if err := sqlx.SelectContext(ctx, q, &rows, q.Rebind(`SELECT `+refundColumns+` FROM refunds WHERE `+where), args...); err != nil {
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
	rs, err := selectRefunds(ctx, db.db, `status = ? AND next_attempt_at <= ? ORDER BY next_attempt_at, id`, string(treasury.Posted), stamp(now))
	if err != nil {
		return nil, fmt.Errorf("pending refunds: %w", err)
	}
	return rs, nil
}

// Refunds lists a committee's refunds ("" for all), oldest first.
func (db *DB) Refunds(ctx context.Context, committeeID string) ([]treasury.Refund, error) {
	where, args := committeeFilter(committeeID)
	rs, err := selectRefunds(ctx, db.db, where+` ORDER BY requested_at, id`, args...)
	if err != nil {
		return nil, fmt.Errorf("refunds: %w", err)
	}
	return rs, nil
}

// Unforwarded returns completed, unrefunded contributions not yet forwarded,
// of one committee or ("") all, oldest receipt first.
func (db *DB) Unforwarded(ctx context.Context, committeeID string) ([]donation.Donation, error) {
	return unforwarded(ctx, db.db, committeeID)
}

func unforwarded(ctx context.Context, q sqlx.ExtContext, committeeID string) ([]donation.Donation, error) {
	where, args := committeeFilter(committeeID)
	ds, err := selectDonations(ctx, q, where+` AND status = 'completed' AND refunded_at IS NULL AND forward_id = ''
		ORDER BY received_at, id`, args...)
	if err != nil {
		return nil, fmt.Errorf("unforwarded contributions: %w", err)
	}
	return ds, nil
}

// Forwards lists a committee's forwards ("" for all), oldest first.
func (db *DB) Forwards(ctx context.Context, committeeID string) ([]treasury.Forward, error) {
	var rows []struct {
		ID          string `db:"id"`
		CommitteeID string `db:"committee_id"`
		Amount      int64  `db:"amount"`
		Count       int    `db:"count"`
		Through     stamp  `db:"through"`
		At          stamp  `db:"at"`
		Reference   string `db:"reference"`
		Actor       string `db:"actor"`
	}
	where, args := committeeFilter(committeeID)
	if err := db.db.SelectContext(ctx, &rows, db.rebind(`SELECT id, committee_id, amount, count, through, at, reference, actor
		FROM forwards WHERE `+where+` ORDER BY at, id`), args...); err != nil {
		return nil, fmt.Errorf("forwards: %w", err)
	}
	out := make([]treasury.Forward, 0, len(rows))
	for _, r := range rows {
		out = append(out, treasury.Forward{ID: r.ID, CommitteeID: r.CommitteeID, Amount: r.Amount, Count: r.Count,
			Through: time.Time(r.Through), At: time.Time(r.At), Reference: r.Reference, Actor: r.Actor})
	}
	return out, nil
}

// Settlements lists the imported settlement files, oldest first, with
// what their lines recorded.
func (db *DB) Settlements(ctx context.Context) ([]treasury.Settlement, error) {
	var rows []struct {
		SHA256     string `db:"sha256"`
		Carrier    string `db:"carrier"`
		Name       string `db:"name"`
		Lines      int    `db:"lines"`
		ImportedAt stamp  `db:"imported_at"`
		Matched    int    `db:"matched"`
		Remitted   int64  `db:"remitted"`
	}
	// What each line's verdict was is stored with it: counting them here
	// only reads what the import decided.
	err := db.db.SelectContext(ctx, &rows, db.rebind(`SELECT f.sha256, f.carrier, f.name, f.lines, f.imported_at,
			COUNT(l.line_no) AS matched, COALESCE(SUM(CASE WHEN l.status = ? THEN l.net ELSE 0 END), 0) AS remitted
		FROM settlement_files f LEFT JOIN settlement_lines l ON l.file_sha256 = f.sha256 AND l.problem = ''
		GROUP BY f.sha256, f.carrier, f.name, f.lines, f.imported_at
		ORDER BY f.imported_at, f.sha256`), treasury.Paid)
	if err != nil {
		return nil, fmt.Errorf("settlements: %w", err)
	}
	out := make([]treasury.Settlement, 0, len(rows))
	for _, r := range rows {
		out = append(out, treasury.Settlement{SHA256: r.SHA256, Carrier: r.Carrier, Name: r.Name, Lines: r.Lines,
			ImportedAt: time.Time(r.ImportedAt), Matched: r.Matched, Problems: r.Lines - r.Matched, Remitted: r.Remitted})
	}
	return out, nil
}

// LogAction appends to the action log in a transaction of its own.
//
// Deprecated: a change and its action-log row belong in one transaction
// (logAction); this remains for the program command until it goes through
// the API.
func (db *DB) LogAction(ctx context.Context, at time.Time, actor, action, detail string) error {
	return db.inTx(ctx, "", func(stx *sqlx.Tx) error { return logAction(ctx, stx, at, actor, action, detail) })
}

// committeeFilter selects one committee's rows, or every row for "".
func committeeFilter(committeeID string) (string, []any) {
	if committeeID == "" {
		return `1 = 1`, nil
	}
	return `committee_id = ?`, []any{committeeID}
}
