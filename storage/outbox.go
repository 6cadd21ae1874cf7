package storage

import (
	"context"
	"fmt"

	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/shortcode/shortcode/compliance"
	"github.com/shortcode/shortcode/donation"
)

// Outbox statuses: an MT is pending until the gateway accepts it (sent),
// refuses it for good (failed), or its number opts out first (cancelled).
const (
	statusPending   = "pending"
	statusSent      = "sent"
	statusFailed    = "failed"
	statusCancelled = "cancelled"
)

// deliveryRank orders the delivery statuses: a status callback is stored
// only if it ranks higher than the stored one, so repeated and out-of-order
// callbacks never go back. Final statuses share a rank: the first one to
// arrive stays. DeliveryUnknown, and any word not listed (a gateway's own,
// stored before statuses were ours), ranks 0 and is stored only when
// nothing is yet.
var deliveryRank = map[donation.DeliveryStatus]int{
	donation.DeliveryQueued:      1,
	donation.DeliverySent:        2,
	donation.DeliveryDelivered:   3,
	donation.DeliveryUndelivered: 3,
	donation.DeliveryFailed:      3,
}

// rankSQL computes the rank of the stored delivery_status: -1 when none.
var rankSQL = func() string {
	byRank := map[int][]string{}
	for s, r := range deliveryRank {
		byRank[r] = append(byRank[r], "'"+string(s)+"'")
	}
	ranks := make([]int, 0, len(byRank))
	for r := range byRank {
		ranks = append(ranks, r)
	}
	sort.Ints(ranks)
	var b strings.Builder
	b.WriteString("CASE WHEN delivery_status IS NULL THEN -1")
	for _, r := range ranks {
		sort.Strings(byRank[r])
		fmt.Fprintf(&b, " WHEN delivery_status IN (%s) THEN %d", strings.Join(byRank[r], ", "), r)
	}
	b.WriteString(" ELSE 0 END")
	return b.String()
}()

// OutboxRecord is an outbox row in full, for the CLI and tests.
type OutboxRecord struct {
	donation.OutboxMT
	MOID           string // the MO that caused it, empty for timers and charges
	Status         string // pending, sent, failed or cancelled
	InFlight       bool   // claimed for a send, or its last attempt's outcome unknown
	LastError      string
	NextAttemptAt  time.Time
	SentAt         time.Time
	FailedAt       time.Time
	CancelledAt    time.Time
	SID            string                  // the gateway's message id once sent
	DeliveryStatus donation.DeliveryStatus // the highest-ranked status callback so far
	DeliveryError  string
	DeliveryAt     time.Time
}

type outboxRow struct {
	ID             string  `db:"id"`
	Phone          string  `db:"phone"`
	ShortCode      string  `db:"short_code"`
	Body           string  `db:"body"`
	DonationID     string  `db:"donation_id"`
	MOID           string  `db:"mo_id"`
	Status         string  `db:"status"`
	Kind           string  `db:"kind"`
	InFlight       bool    `db:"in_flight"`
	RedactedBody   *string `db:"redacted_body"`
	CancelledAt    stamp   `db:"cancelled_at"`
	Attempts       int     `db:"attempts"`
	LastError      string  `db:"last_error"`
	CreatedAt      stamp   `db:"created_at"`
	NextAttemptAt  stamp   `db:"next_attempt_at"`
	SentAt         stamp   `db:"sent_at"`
	FailedAt       stamp   `db:"failed_at"`
	SID            *string `db:"sid"`
	DeliveryStatus *string `db:"delivery_status"`
	DeliveryError  *string `db:"delivery_error"`
	DeliveryAt     stamp   `db:"delivery_at"`
}

const outboxColumns = `id, phone, short_code, body, donation_id, mo_id, status, kind, in_flight,
	redacted_body, cancelled_at, attempts, last_error,
	created_at, next_attempt_at, sent_at, failed_at, sid, delivery_status, delivery_error, delivery_at`

func (r outboxRow) mt() donation.OutboxMT {
	m := donation.OutboxMT{
		ID: r.ID,
		MT: donation.MT{To: r.Phone, From: r.ShortCode, Body: r.Body, DonationID: r.DonationID,
			Kind: donation.MTKind(r.Kind)},
		Attempts:  r.Attempts,
		CreatedAt: time.Time(r.CreatedAt),
	}
	if r.RedactedBody != nil {
		m.MT.Redacted = *r.RedactedBody
	}
	return m
}

func (r outboxRow) record() OutboxRecord {
	str := func(s *string) string {
		if s == nil {
			return ""
		}
		return *s
	}
	return OutboxRecord{
		OutboxMT:       r.mt(),
		MOID:           r.MOID,
		Status:         r.Status,
		InFlight:       r.InFlight,
		LastError:      r.LastError,
		NextAttemptAt:  time.Time(r.NextAttemptAt),
		SentAt:         time.Time(r.SentAt),
		FailedAt:       time.Time(r.FailedAt),
		CancelledAt:    time.Time(r.CancelledAt),
		SID:            str(r.SID),
		DeliveryStatus: donation.DeliveryStatus(str(r.DeliveryStatus)),
		DeliveryError:  str(r.DeliveryError),
		DeliveryAt:     time.Time(r.DeliveryAt),
	}
}

// PendingMTs claims up to limit MTs due at now, oldest first: for each
// number only its oldest unsent MT, so that a number's texts go out in
// order even with several servers, and each claimed by a conditional
// update, so that two servers never send the same MT. A claim holds the
// MT for lease and marks it in flight; MarkSent, MarkRetry or MarkFailed
// end it. An MT still marked in flight when it is claimed again (its
// server died, or the claim ran out) comes back with Unknown set.
//
// An MT to a number that opted out on that short code after it was queued
// is cancelled here instead, unless it is the confirmation of the latest
// opt-out; one whose last send's outcome is unknown is claimed to be
// looked up at the gateway (Cancel), and cancelled only if not there.
func (db *DB) PendingMTs(ctx context.Context, now time.Time, limit int, lease time.Duration) ([]donation.OutboxMT, error) {
	if limit <= 0 {
		return nil, nil
	}
	due, err := db.dueMTs(ctx, now, limit)
	if err != nil {
		return nil, fmt.Errorf("pending MTs: %w", err)
	}
	superseded, err := db.supersededConfirmations(ctx, due)
	if err != nil {
		return nil, fmt.Errorf("pending MTs: %w", err)
	}
	var cancel, claim []string
	resolveOnly := map[string]bool{}
	for _, r := range due {
		switch {
		case !r.OptedOut, r.Kind == string(donation.OptOutConfirmation) && !superseded[r.ID]:
			claim = append(claim, r.ID)
		case r.InFlight:
			// It may have reached the donor: claimed to be looked up at
			// the gateway, recorded sent if it is there, else cancelled.
			claim = append(claim, r.ID)
			resolveOnly[r.ID] = true
		default:
			cancel = append(cancel, r.ID)
		}
	}
	// One statement each for every cancellation and every claim, rather
	// than one each per MT: a claim costs the sender a commit, not one per
	// MT. Each row is still claimed only if it is still pending and due,
	// so that two servers never claim one MT; RETURNING says which this
	// one got.
	if len(cancel) > 0 {
		q, args, err := sqlx.In(`UPDATE outbox SET status = ?, cancelled_at = ?, `+redact+`
			WHERE id IN (?) AND status = ? AND next_attempt_at <= ?`,
			statusCancelled, stamp(now), cancel, statusPending, stamp(now))
		if err == nil {
			_, err = db.db.ExecContext(ctx, db.rebind(q), args...)
		}
		if err != nil {
			return nil, fmt.Errorf("cancel MTs to opted-out numbers: %w", err)
		}
	}
	if len(claim) == 0 {
		return nil, nil
	}
	until := now.Add(lease)
	// The claim checks again that no earlier MT to the number waits: the
	// pages of dueMTs are read one after another, not in one snapshot. It
	// returns the claimed rows in full; the walk read only what it needs.
	q, args, err := sqlx.In(`UPDATE outbox SET next_attempt_at = ?, claimed_until = ?, in_flight = TRUE
		WHERE id IN (?) AND status = ? AND next_attempt_at <= ?
		AND NOT EXISTS (SELECT 1 FROM outbox e
			WHERE e.phone = outbox.phone AND e.status = '`+statusPending+`' AND e.id < outbox.id)
		RETURNING `+outboxColumns,
		stamp(until), stamp(until), claim, statusPending, stamp(now))
	var got []outboxRow
	if err == nil {
		err = db.db.SelectContext(ctx, &got, db.rebind(q), args...)
	}
	if err != nil {
		return nil, fmt.Errorf("claim MTs: %w", err)
	}
	claimed := make(map[string]outboxRow, len(got))
	for _, r := range got {
		claimed[r.ID] = r
	}
	out := make([]donation.OutboxMT, 0, len(got))
	for _, r := range due {
		c, ok := claimed[r.ID]
		if !ok {
			continue // cancelled, or another server claimed it first
		}
		m := c.mt()
		m.Unknown, m.ClaimedUntil, m.Cancel = r.InFlight, until, resolveOnly[r.ID]
		out = append(out, m)
	}
	return out, nil
}

// waitingRow is what the claim needs to know of an MT still waiting to be
// sent, and whether its number has opted out on its short code.
type waitingRow struct {
	ID            string `db:"id"`
	Phone         string `db:"phone"`
	ShortCode     string `db:"short_code"`
	Kind          string `db:"kind"`
	InFlight      bool   `db:"in_flight"`
	NextAttemptAt stamp  `db:"next_attempt_at"`
	OptedOut      bool   `db:"opted_out"`
}

// How many waiting MTs dueMTs reads at a time: the first page holds the
// sends under way and a claim's worth; the next ones, read only when many
// MTs wait with backoff, are larger.
const (
	firstWaitingPage = 64
	lastWaitingPage  = 1024
)

// dueMTs returns up to limit MTs, oldest first, each the oldest MT waiting
// for its number and due at now. It walks the waiting MTs in id order (the
// outbox_waiting index) a page at a time, so that a number's earlier MTs
// are read before its later ones and a claim reads about as many rows as
// it claims plus the sends under way, however long the backlog. (One
// query with a NOT EXISTS for the earlier MT was planned on PostgreSQL as
// a scan of every waiting MT and a sort: 15 to 40 ms a claim behind a
// backlog of 2,000 MTs, with one loop claiming.)
func (db *DB) dueMTs(ctx context.Context, now time.Time, limit int) ([]waitingRow, error) {
	seen := map[string]bool{}
	var due []waitingRow
	after := ""
	for size := firstWaitingPage; ; size = min(2*size, lastWaitingPage) {
		var page []waitingRow
		err := db.db.SelectContext(ctx, &page, db.rebind(`SELECT o.id, o.phone, o.short_code, o.kind,
				o.in_flight, o.next_attempt_at, COALESCE(s.opted_out, FALSE) AS opted_out
			FROM outbox o LEFT JOIN subscribers s ON s.phone = o.phone AND s.short_code = o.short_code
			WHERE o.status = '`+statusPending+`' AND o.id > ?
			ORDER BY o.id LIMIT `+strconv.Itoa(size)), after)
		if err != nil {
			return nil, err
		}
		for _, r := range page {
			if seen[r.Phone] {
				continue // behind the number's earlier MT
			}
			seen[r.Phone] = true
			if at := time.Time(r.NextAttemptAt); !at.IsZero() && !at.After(now) {
				if due = append(due, r); len(due) == limit {
					return due, nil
				}
			}
		}
		if len(page) < size {
			return due, nil
		}
		after = page[len(page)-1].ID
	}
}

// supersededConfirmations says which opt-out confirmations among rows, to
// numbers now opted out, have a later one queued for the same number and
// short code: they belong to an opt-out the donor has since ended.
func (db *DB) supersededConfirmations(ctx context.Context, rows []waitingRow) (map[string]bool, error) {
	out := map[string]bool{}
	for _, r := range rows {
		if !r.OptedOut || r.Kind != string(donation.OptOutConfirmation) {
			continue
		}
		var later bool
		err := db.db.GetContext(ctx, &later, db.rebind(`SELECT EXISTS (SELECT 1 FROM outbox
			WHERE phone = ? AND short_code = ? AND kind = ? AND id > ?)`),
			r.Phone, r.ShortCode, string(donation.OptOutConfirmation), r.ID)
		if err != nil {
			return nil, err
		}
		out[r.ID] = later
	}
	return out, nil
}

// markPending updates an MT in one of the statuses from (pending when
// none is given); an MT in none of them (or unknown) is an error wrapping
// donation.ErrNotFound.
func (db *DB) markPending(ctx context.Context, what, id, set string, args []any, from ...string) error {
	if len(from) == 0 {
		from = []string{statusPending}
	}
	args = append(args, id)
	for _, f := range from {
		args = append(args, f)
	}
	in := strings.TrimSuffix(strings.Repeat("?, ", len(from)), ", ")
	res, err := db.db.ExecContext(ctx, db.rebind(`UPDATE outbox SET `+set+` WHERE id = ? AND status IN (`+in+`)`), args...)
	if err != nil {
		return fmt.Errorf("mark MT %s %s: %w", id, what, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("mark MT %s %s: %w", id, what, err)
	}
	if n != 1 {
		return fmt.Errorf("mark MT %s %s: no pending MT: %w", id, what, donation.ErrNotFound)
	}
	return nil
}

// redact keeps the redacted body, if any, in place of the body: once an MT
// has left the queue nobody needs its PIN or page token again.
const redact = `body = COALESCE(redacted_body, body), redacted_body = NULL, in_flight = FALSE, claimed_until = NULL`

// MarkAllSent records that the gateway accepted each MT as its sid, in one
// statement, then applies the status callbacks that arrived for those sids
// before they were stored. An MT cancelled while its send was under way is
// marked sent too: it was. It returns the ids that were neither pending
// nor cancelled (unknown, or marked already).
func (db *DB) MarkAllSent(ctx context.Context, sent []donation.SentMT, now time.Time) ([]string, error) {
	if len(sent) == 0 {
		return nil, nil
	}
	values := strings.TrimSuffix(strings.Repeat("(?, ?), ", len(sent)), ", ")
	args := make([]any, 0, 2*len(sent)+4)
	sids := make([]string, len(sent))
	for i, m := range sent {
		args = append(args, m.ID, m.SID)
		sids[i] = m.SID
	}
	args = append(args, statusSent, stamp(now), statusPending, statusCancelled)
	var marked []string
	err := db.db.SelectContext(ctx, &marked, db.rebind(`WITH v (id, sid) AS (VALUES `+values+`)
		UPDATE outbox SET status = ?, sid = v.sid, sent_at = ?, `+redact+`
		FROM v WHERE outbox.id = v.id AND outbox.status IN (?, ?) RETURNING outbox.id`), args...)
	if err != nil {
		return nil, fmt.Errorf("mark %d MTs sent: %w", len(sent), err)
	}
	got := make(map[string]bool, len(marked))
	for _, id := range marked {
		got[id] = true
	}
	var gone []string
	for _, m := range sent {
		if !got[m.ID] {
			gone = append(gone, m.ID)
		}
	}
	var early []struct {
		SID       string                  `db:"sid"`
		Status    donation.DeliveryStatus `db:"status"`
		ErrorCode string                  `db:"error_code"`
		At        stamp                   `db:"at"`
	}
	q, qargs, err := sqlx.In(`SELECT sid, status, error_code, at FROM status_callbacks WHERE sid IN (?) ORDER BY at`, sids)
	if err == nil {
		err = db.db.SelectContext(ctx, &early, db.rebind(q), qargs...)
	}
	if err != nil {
		return nil, fmt.Errorf("mark %d MTs sent: status callbacks: %w", len(sent), err)
	}
	for _, e := range early {
		if err := db.applyStatus(ctx, e.SID, e.Status, e.ErrorCode, time.Time(e.At)); err != nil {
			return nil, err
		}
	}
	return gone, nil
}

// MarkRetry counts a failed attempt of a pending MT and schedules the next;
// unknown keeps it marked in flight, to be resolved before it is sent again.
func (db *DB) MarkRetry(ctx context.Context, id, lastErr string, next time.Time, unknown bool) error {
	return db.markPending(ctx, "for retry", id, `attempts = attempts + 1, last_error = ?, next_attempt_at = ?, in_flight = ?, claimed_until = NULL`,
		[]any{lastErr, stamp(next), unknown})
}

// MarkCancelled cancels a pending MT to a number that opted out, once it is
// known not to have reached the gateway.
func (db *DB) MarkCancelled(ctx context.Context, id string, now time.Time) error {
	return db.markPending(ctx, "cancelled", id, `status = ?, cancelled_at = ?, `+redact,
		[]any{statusCancelled, stamp(now)})
}

// MarkFailed gives up on a pending MT the gateway refused for good.
func (db *DB) MarkFailed(ctx context.Context, id, reason string, now time.Time) error {
	return db.markPending(ctx, "failed", id, `status = ?, last_error = ?, failed_at = ?, `+redact,
		[]any{statusFailed, reason, stamp(now)})
}

// KnownSIDs returns which of sids are recorded for an MT.
func (db *DB) KnownSIDs(ctx context.Context, sids []string) (map[string]bool, error) {
	known := map[string]bool{}
	if len(sids) == 0 {
		return known, nil
	}
	q, args, err := sqlx.In(`SELECT sid FROM outbox WHERE sid IN (?)`, sids)
	if err != nil {
		return nil, fmt.Errorf("known sids: %w", err)
	}
	var got []string
	if err := db.db.SelectContext(ctx, &got, db.rebind(q), args...); err != nil {
		return nil, fmt.Errorf("known sids: %w", err)
	}
	for _, s := range got {
		known[s] = true
	}
	return known, nil
}

// RecordStatus stores a delivery status callback for the MT sent as sid,
// unless the stored status ranks as high or higher (see deliveryRank): the
// comparison is part of the UPDATE, so concurrent callbacks cannot go back
// either. Every callback is also kept in status_callbacks first, so that
// one racing the sender's MarkSent is applied by whichever runs second.
func (db *DB) RecordStatus(ctx context.Context, sid string, status donation.DeliveryStatus, errorCode string, now time.Time) error {
	if sid == "" {
		return nil
	}
	if _, ok := deliveryRank[status]; !ok {
		status = donation.DeliveryUnknown
	}
	_, err := db.db.ExecContext(ctx, db.rebind(`INSERT INTO status_callbacks (sid, status, error_code, at) VALUES (?, ?, ?, ?)
		ON CONFLICT (sid, status) DO NOTHING`), sid, status, errorCode, stamp(now))
	if err != nil {
		return fmt.Errorf("record status %q of MT %s: %w", status, sid, err)
	}
	return db.applyStatus(ctx, sid, status, errorCode, now)
}

func (db *DB) applyStatus(ctx context.Context, sid string, status donation.DeliveryStatus, errorCode string, at time.Time) error {
	_, err := db.db.ExecContext(ctx, db.rebind(`UPDATE outbox SET delivery_status = ?, delivery_error = ?, delivery_at = ?
		WHERE sid = ? AND `+rankSQL+` < ?`), status, errorCode, stamp(at), sid, deliveryRank[status])
	if err != nil {
		return fmt.Errorf("record status %q of MT %s: %w", status, sid, err)
	}
	return nil
}

// OutboxRecords returns every MT queued for a phone number, in the order
// they were written.
func (db *DB) OutboxRecords(ctx context.Context, phone string) ([]OutboxRecord, error) {
	var rows []outboxRow
	if err := db.db.SelectContext(ctx, &rows, db.rebind(`SELECT `+outboxColumns+` FROM outbox WHERE phone = ? ORDER BY id`), phone); err != nil {
		return nil, fmt.Errorf("outbox of %s: %w", compliance.MaskPhone(phone), err)
	}
	out := make([]OutboxRecord, 0, len(rows))
	for _, r := range rows {
		out = append(out, r.record())
	}
	return out, nil
}

// MTs returns every MT queued for a phone number, sent or not, in the order
// they were written.
func (db *DB) MTs(ctx context.Context, phone string) ([]donation.OutboxMT, error) {
	recs, err := db.OutboxRecords(ctx, phone)
	if err != nil {
		return nil, err
	}
	out := make([]donation.OutboxMT, 0, len(recs))
	for _, r := range recs {
		out = append(out, r.OutboxMT)
	}
	return out, nil
}

// PendingCount counts the MTs waiting to be sent that are due at now.
func (db *DB) PendingCount(ctx context.Context, now time.Time) (int, error) {
	var n int
	err := db.db.GetContext(ctx, &n, db.rebind(`SELECT COUNT(*) FROM outbox
		WHERE status = '`+statusPending+`' AND next_attempt_at <= ?`), stamp(now))
	if err != nil {
		return 0, fmt.Errorf("pending MTs: %w", err)
	}
	return n, nil
}
