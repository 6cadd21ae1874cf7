package storage

import (
	"context"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/shortcode/shortcode/compliance"
	"github.com/shortcode/shortcode/donation"
)

// Update runs fn in one transaction that serialises on the phone number and
// commits when fn returns nil; an error from fn, or a panic, rolls back.
//
// The number's lock is taken first: on PostgreSQL an advisory lock (at READ
// COMMITTED, so every statement after the lock sees what the previous
// holder committed), on SQLite by BEGIN IMMEDIATE. fn must use
// only the Tx it is given: on SQLite the one connection is busy until Update
// returns, so calling other DB methods from fn would wait forever.
func (db *DB) Update(ctx context.Context, phone string, fn func(donation.Tx) error) error {
	if phone == "" {
		return errors.New("update: empty phone number")
	}
	return db.inTx(ctx, phone, func(stx *sqlx.Tx) error { return fn(&tx{tx: stx}) })
}

// inTx is the one way storage changes anything: it runs fn in one
// transaction and commits when fn returns nil; an error from fn, or a
// panic, rolls back. A non-empty phone takes that number's lock first (see
// Update), so that the change serialises with every other one for it.
func (db *DB) inTx(ctx context.Context, phone string, fn func(*sqlx.Tx) error) error {
	who := "transaction"
	if phone != "" {
		who = "update " + compliance.MaskPhone(phone)
	}
	stx, err := db.begin(ctx)
	if err != nil {
		return fmt.Errorf("%s: begin: %w", who, err)
	}
	defer func() {
		if p := recover(); p != nil {
			_ = stx.Rollback()
			panic(p)
		}
	}()
	if phone != "" {
		if err := db.lockPhone(ctx, stx, phone); err != nil {
			_ = stx.Rollback()
			return fmt.Errorf("%s: lock: %w", who, err)
		}
	}
	if err := fn(stx); err != nil {
		if rerr := stx.Rollback(); rerr != nil {
			return errors.Join(err, fmt.Errorf("%s: rollback: %w", who, rerr))
		}
		return err
	}
	if err := stx.Commit(); err != nil {
		return fmt.Errorf("%s: commit: %w", who, err)
	}
	return nil
}

// begin starts a transaction: BEGIN IMMEDIATE on SQLite (see Open), READ
// COMMITTED on PostgreSQL whatever the server's default, so that an insert
// racing another transaction's waits for it and then sees its row (ON
// CONFLICT DO NOTHING affects no row) instead of failing to serialise.
func (db *DB) begin(ctx context.Context) (*sqlx.Tx, error) {
	var opts *sql.TxOptions
	if db.driver == Postgres {
		opts = &sql.TxOptions{Isolation: sql.LevelReadCommitted}
	}
	return db.db.BeginTxx(ctx, opts)
}

// lockPhone takes the per-number lock for the rest of the transaction. On
// SQLite, BEGIN IMMEDIATE already holds the database's write lock. On
// PostgreSQL it is a transaction-level advisory lock on the number's hash,
// in a key space of its own (two keys, phoneLockClass first): one statement
// for a new number as for a known one, and no row written. Two numbers
// whose hashes collide only wait for each other; no transaction holds two
// numbers' locks, so that cannot deadlock.
func (db *DB) lockPhone(ctx context.Context, stx *sqlx.Tx, phone string) error {
	if db.driver != Postgres {
		return nil
	}
	h := fnv.New32a()
	h.Write([]byte(phone))
	_, err := stx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1, $2)`, phoneLockClass, int32(h.Sum32()))
	return err
}

// phoneLockClass is the first key of every number's advisory lock ("phon").
const phoneLockClass int32 = 0x70686f6e

// tx is donation.Tx over one transaction of Update.
type tx struct {
	tx *sqlx.Tx
}

func (t *tx) exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	return t.tx.ExecContext(ctx, t.tx.Rebind(q), args...)
}

// RecordMO stores an inbound message; fresh is false when this gateway
// already delivered this message id. On PostgreSQL an insert racing one from
// another transaction waits for it and then reports fresh=false.
func (t *tx) RecordMO(ctx context.Context, mo donation.MO) (bool, error) {
	res, err := t.exec(ctx, `INSERT INTO mos (gateway, message_id, phone, short_code, body, received_at)
		VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (gateway, message_id) DO NOTHING`,
		mo.Gateway, mo.MessageID, mo.From, mo.To, mo.Body, stamp(mo.At))
	if err != nil {
		return false, fmt.Errorf("record MO %s/%s from %s: %w", mo.Gateway, mo.MessageID, compliance.MaskPhone(mo.From), err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("record MO %s/%s from %s: %w", mo.Gateway, mo.MessageID, compliance.MaskPhone(mo.From), err)
	}
	return n == 1, nil
}

// CountMOs counts the MOs from a phone number received at or after since.
func (t *tx) CountMOs(ctx context.Context, phone string, since time.Time) (int, error) {
	var n int
	if err := t.tx.GetContext(ctx, &n, t.tx.Rebind(`SELECT COUNT(*) FROM mos WHERE phone = ? AND received_at >= ?`), phone, stamp(since)); err != nil {
		return 0, fmt.Errorf("count MOs from %s: %w", compliance.MaskPhone(phone), err)
	}
	return n, nil
}

// subscriberRow is a row of subscribers.
type subscriberRow struct {
	Phone         string `db:"phone"`
	ShortCode     string `db:"short_code"`
	State         string `db:"state"`
	ProgramID     string `db:"program_id"`
	DonationID    string `db:"donation_id"`
	OptedOut      bool   `db:"opted_out"`
	Reprompts     int    `db:"reprompts"`
	HintAt        stamp  `db:"hint_at"`
	ExpiredNotice bool   `db:"expired_notice"`
}

// Subscriber returns the stored subscriber, or a new idle one.
func (t *tx) Subscriber(ctx context.Context, phone, shortCode string) (donation.Subscriber, error) {
	var r subscriberRow
	err := t.tx.GetContext(ctx, &r, t.tx.Rebind(`SELECT phone, short_code, state, program_id, donation_id,
		opted_out, reprompts, hint_at, expired_notice
		FROM subscribers WHERE phone = ? AND short_code = ?`), phone, shortCode)
	if errors.Is(err, sql.ErrNoRows) {
		return donation.Subscriber{Phone: phone, ShortCode: shortCode, State: donation.Idle}, nil
	}
	if err != nil {
		return donation.Subscriber{}, fmt.Errorf("subscriber %s on %s: %w", compliance.MaskPhone(phone), shortCode, err)
	}
	return donation.Subscriber{
		Phone:         r.Phone,
		ShortCode:     r.ShortCode,
		State:         donation.State(r.State),
		ProgramID:     r.ProgramID,
		DonationID:    r.DonationID,
		OptedOut:      r.OptedOut,
		Reprompts:     r.Reprompts,
		HintAt:        time.Time(r.HintAt),
		ExpiredNotice: r.ExpiredNotice,
	}, nil
}

// Donation returns one donation by id, or an error wrapping
// donation.ErrNotFound.
func (t *tx) Donation(ctx context.Context, id string) (donation.Donation, error) {
	return getDonation(ctx, t.tx, id)
}

// Blocked tells whether a number is on the committee's blocklist or the
// global one (committee_id ”).
func (t *tx) Blocked(ctx context.Context, phone, committeeID string) (bool, error) {
	var n int
	err := t.tx.GetContext(ctx, &n, t.tx.Rebind(`SELECT COUNT(*) FROM blocklist
		WHERE phone = ? AND committee_id IN (?, '')`), phone, committeeID)
	if err != nil {
		return false, fmt.Errorf("blocklist %s: %w", compliance.MaskPhone(phone), err)
	}
	return n > 0, nil
}

// Usage returns what counts against the caps for a phone number and a
// committee (SPEC §5.2): completed donations not refunded, and open ones
// holding a reservation, each at its date of receipt. An open one not yet
// certified has none yet: the donor may certify until it expires, so it
// counts from its reservation through its expiry (compliance.Entry.Until).
func (t *tx) Usage(ctx context.Context, phone, committeeID string) ([]compliance.Entry, error) {
	var rows []struct {
		At     stamp `db:"at"`
		Until  stamp `db:"open_until"`
		Amount int64 `db:"amount"`
	}
	err := t.tx.SelectContext(ctx, &rows, t.tx.Rebind(`SELECT COALESCE(received_at, reserved_at, created_at, '') AS at,
			CASE WHEN status = ? AND received_at IS NULL THEN expires_at END AS open_until, amount
		FROM donations
		WHERE phone = ? AND committee_id = ? AND refunded_at IS NULL
		  AND (status = ? OR (status = ? AND reserved_at IS NOT NULL))
		ORDER BY at, id`), string(donation.Open), phone, committeeID, string(donation.Completed), string(donation.Open))
	if err != nil {
		return nil, fmt.Errorf("usage of %s for %s: %w", compliance.MaskPhone(phone), committeeID, err)
	}
	out := make([]compliance.Entry, 0, len(rows))
	for _, r := range rows {
		out = append(out, compliance.Entry{At: time.Time(r.At), Until: time.Time(r.Until), Amount: r.Amount})
	}
	return out, nil
}

// Apply writes a step's result: the subscriber (skipped when its Phone is
// empty), each donation, each MT into the outbox, the certification record
// with the next sequence number, and the consent event.
func (t *tx) Apply(ctx context.Context, r donation.Result, now time.Time, moID string) error {
	who := compliance.MaskPhone(r.Subscriber.Phone)
	if r.Subscriber.Phone == "" && len(r.Donations) > 0 {
		who = compliance.MaskPhone(r.Donations[0].Phone)
	}
	if err := t.apply(ctx, r, now, moID); err != nil {
		return fmt.Errorf("apply result for %s: %w", who, err)
	}
	return nil
}

func (t *tx) apply(ctx context.Context, r donation.Result, now time.Time, moID string) error {
	if s := r.Subscriber; s.Phone != "" {
		if err := t.putSubscriber(ctx, s, now); err != nil {
			return fmt.Errorf("subscriber on %s: %w", s.ShortCode, err)
		}
	}
	for _, d := range r.Donations {
		if err := t.putDonation(ctx, d); err != nil {
			return fmt.Errorf("donation %s: %w", d.ID, err)
		}
	}
	if r.DropQueued && r.Subscriber.Phone != "" {
		if err := t.dropQueued(ctx, r.Subscriber.Phone, r.Subscriber.ShortCode, now); err != nil {
			return err
		}
	}
	if err := t.putMTs(ctx, r.MTs, now, moID); err != nil {
		return err
	}
	if c := r.Certification; c != nil {
		if err := c.Validate(); err != nil {
			return err
		}
		if err := t.queueCertification(ctx, *c); err != nil {
			return fmt.Errorf("certification of donation %s: %w", c.DonationID, err)
		}
	}
	if v := r.Verification; v != nil {
		if err := t.putVerification(ctx, *v); err != nil {
			return fmt.Errorf("PIN verification of donation %s: %w", v.DonationID, err)
		}
	}
	if c := r.Consent; c != nil {
		if err := t.putConsent(ctx, *c); err != nil {
			return fmt.Errorf("consent event %s: %w", c.Kind, err)
		}
	}
	return nil
}

func (t *tx) putSubscriber(ctx context.Context, s donation.Subscriber, now time.Time) error {
	_, err := t.exec(ctx, `INSERT INTO subscribers (phone, short_code, state, program_id, donation_id,
			opted_out, reprompts, hint_at, expired_notice, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (phone, short_code) DO UPDATE SET
			state = excluded.state,
			program_id = excluded.program_id,
			donation_id = excluded.donation_id,
			opted_out = excluded.opted_out,
			reprompts = excluded.reprompts,
			hint_at = excluded.hint_at,
			expired_notice = excluded.expired_notice,
			updated_at = excluded.updated_at`,
		s.Phone, s.ShortCode, string(s.State), s.ProgramID, s.DonationID,
		s.OptedOut, s.Reprompts, stamp(s.HintAt), s.ExpiredNotice, stamp(now))
	return err
}

func (t *tx) putDonation(ctx context.Context, d donation.Donation) error {
	if d.ID == "" {
		return errors.New("empty id")
	}
	_, err := t.exec(ctx, `INSERT INTO donations (id, program_id, committee_id, phone, short_code,
			amount, status, created_at, reserved_at, received_at, certified_at, expires_at,
			pin_hash, pin_tries, token, charge_posted_at, correlator, server_ref, decline_reason, finished_at,
			carrier, charge_attempts, next_charge_at, decline_code, carrier_fee, aggregator_fee)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET
			program_id = excluded.program_id,
			committee_id = excluded.committee_id,
			phone = excluded.phone,
			short_code = excluded.short_code,
			amount = excluded.amount,
			status = excluded.status,
			created_at = excluded.created_at,
			reserved_at = excluded.reserved_at,
			received_at = excluded.received_at,
			certified_at = excluded.certified_at,
			expires_at = excluded.expires_at,
			pin_hash = excluded.pin_hash,
			pin_tries = excluded.pin_tries,
			token = excluded.token,
			charge_posted_at = excluded.charge_posted_at,
			correlator = excluded.correlator,
			server_ref = excluded.server_ref,
			decline_reason = excluded.decline_reason,
			finished_at = excluded.finished_at,
			carrier = excluded.carrier,
			charge_attempts = excluded.charge_attempts,
			next_charge_at = excluded.next_charge_at,
			decline_code = excluded.decline_code,
			carrier_fee = excluded.carrier_fee,
			aggregator_fee = excluded.aggregator_fee`,
		d.ID, d.ProgramID, d.CommitteeID, d.Phone, d.ShortCode,
		d.Amount, string(d.Status), stamp(d.CreatedAt), stamp(d.ReservedAt), stamp(d.ReceivedAt),
		stamp(d.CertifiedAt), stamp(d.ExpiresAt),
		d.PINHash, d.PINTries, d.Token, stamp(d.ChargePostedAt), d.Correlator, d.ServerRef,
		d.DeclineReason, stamp(d.FinishedAt),
		d.Carrier, d.ChargeAttempts, stamp(d.NextChargeAt), d.DeclineCode, d.CarrierFee, d.AggregatorFee)
	return err
}

// putMTs queues MTs in the outbox. Their ids sort after every id already
// queued for the same number, even when the clock stands still or steps
// back: the number's lock is held, so this holds across servers too.
func (t *tx) putMTs(ctx context.Context, mts []donation.MT, now time.Time, moID string) error {
	base := nanosOf(now)
	floors := map[string]int64{}
	for i, mt := range mts {
		floor, ok := floors[mt.To]
		if !ok {
			// Not MAX(id): PostgreSQL plans an aggregate over the index
			// at more than this (0.115 against 0.084 ms; docs/performance.md).
			var last sql.NullString
			err := t.tx.GetContext(ctx, &last, t.tx.Rebind(`SELECT id FROM outbox WHERE phone = ? ORDER BY id DESC LIMIT 1`), mt.To)
			if err != nil && !errors.Is(err, sql.ErrNoRows) {
				return fmt.Errorf("queue MT %d: %w", i, err)
			}
			floor = base
			if last.Valid {
				if n, err := strconv.ParseInt(strings.SplitN(last.String, "-", 2)[0], 10, 64); err == nil && n >= floor {
					floor = n + 1
				}
			}
			floors[mt.To] = floor
		}
		var redacted *string
		if mt.Redacted != "" {
			redacted = &mt.Redacted
		}
		_, err := t.exec(ctx, `INSERT INTO outbox (id, phone, short_code, body, donation_id, mo_id,
				status, kind, redacted_body, attempts, last_error, created_at, next_attempt_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 0, '', ?, ?)`,
			orderedID(floor, i), mt.To, mt.From, mt.Body, mt.DonationID, moID,
			statusPending, string(mt.Kind), redacted, stamp(now), stamp(now))
		if err != nil {
			return fmt.Errorf("queue MT %d: %w", i, err)
		}
	}
	return nil
}

// dropQueued cancels the MTs queued for a number on a short code that are
// not on their way to the gateway: after STOP nothing but the opt-out
// confirmation may be sent (SPEC §10 (4)). An MT whose send is under way
// (claimed, claim not over) is left to finish; if that send fails, the
// sender finds the opt-out and cancels it then.
func (t *tx) dropQueued(ctx context.Context, phone, shortCode string, now time.Time) error {
	_, err := t.exec(ctx, `UPDATE outbox SET status = ?, cancelled_at = ?, `+redact+`
		WHERE phone = ? AND short_code = ? AND status = ? AND NOT in_flight
		AND NOT (claimed_until IS NOT NULL AND claimed_until > ?)`,
		statusCancelled, stamp(now), phone, shortCode, statusPending, stamp(now))
	if err != nil {
		return fmt.Errorf("cancel queued MTs: %w", err)
	}
	return nil
}

// queueCertification queues a certification for the log's sequencer and
// keeps its texts: it takes no log-wide lock, so certifying MOs of
// different numbers never wait on each other.
func (t *tx) queueCertification(ctx context.Context, c donation.Certification) error {
	for _, text := range []struct{ sum, body string }{{c.TextSHA256, c.Text}, {c.TermsSHA256, c.Terms}} {
		if text.body == "" {
			continue
		}
		if _, err := t.exec(ctx, `INSERT INTO cert_texts (sha256, body) VALUES (?, ?) ON CONFLICT (sha256) DO NOTHING`,
			text.sum, text.body); err != nil {
			return err
		}
	}
	id := orderedID(nanosOf(c.At), 0)
	_, err := t.exec(ctx, `INSERT INTO cert_queue (id, at, program_id, committee_id, phone, donation_id,
			channel, message_id, text_version, text_sha256, terms_version, terms_sha256, amount, salt, ip, user_agent)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		id, stamp(c.At), c.ProgramID, c.CommitteeID, c.Phone, c.DonationID,
		c.Channel, c.MessageID, c.TextVersion, c.TextSHA256, c.TermsVersion, c.TermsSHA256, c.Amount,
		hex.EncodeToString(c.Salt[:]), c.IP, c.UserAgent)
	if err != nil {
		return err
	}
	_, err = t.exec(ctx, `INSERT INTO cert_pending (queue_id) VALUES (?)`, id)
	return err
}

// putVerification records a correct PIN; a donation takes one.
func (t *tx) putVerification(ctx context.Context, v donation.PINVerification) error {
	_, err := t.exec(ctx, `INSERT INTO pin_verifications (donation_id, at, channel, message_id, ip, user_agent)
		VALUES (?, ?, ?, ?, ?, ?)`, v.DonationID, stamp(v.At), v.Channel, v.MessageID, v.IP, v.UserAgent)
	return err
}

func (t *tx) putConsent(ctx context.Context, c donation.ConsentEvent) error {
	_, err := t.exec(ctx, `INSERT INTO consent_events (id, phone, short_code, at, kind, message_id, body, inferred)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		orderedID(nanosOf(c.At), 0), c.Phone, c.ShortCode, stamp(c.At), c.Kind, c.MessageID, c.Text, c.Inferred)
	return err
}

// donationColumns are the columns of donationRow, in order.
const donationColumns = `id, program_id, committee_id, phone, short_code, amount, status,
	created_at, reserved_at, received_at, certified_at, expires_at, pin_hash, pin_tries, token,
	charge_posted_at, correlator, server_ref, decline_reason, finished_at,
	carrier, charge_attempts, next_charge_at, decline_code, carrier_fee, aggregator_fee, refunded_at,
	remitted_at, remitted_net, forward_id`

// donationRow is a row of donations.
type donationRow struct {
	ID             string `db:"id"`
	ProgramID      string `db:"program_id"`
	CommitteeID    string `db:"committee_id"`
	Phone          string `db:"phone"`
	ShortCode      string `db:"short_code"`
	Amount         int64  `db:"amount"`
	Status         string `db:"status"`
	CreatedAt      stamp  `db:"created_at"`
	ReservedAt     stamp  `db:"reserved_at"`
	ReceivedAt     stamp  `db:"received_at"`
	CertifiedAt    stamp  `db:"certified_at"`
	ExpiresAt      stamp  `db:"expires_at"`
	PINHash        string `db:"pin_hash"`
	PINTries       int    `db:"pin_tries"`
	Token          string `db:"token"`
	ChargePostedAt stamp  `db:"charge_posted_at"`
	Correlator     string `db:"correlator"`
	ServerRef      string `db:"server_ref"`
	DeclineReason  string `db:"decline_reason"`
	FinishedAt     stamp  `db:"finished_at"`
	Carrier        string `db:"carrier"`
	ChargeAttempts int    `db:"charge_attempts"`
	NextChargeAt   stamp  `db:"next_charge_at"`
	DeclineCode    string `db:"decline_code"`
	CarrierFee     int64  `db:"carrier_fee"`
	AggregatorFee  int64  `db:"aggregator_fee"`
	RefundedAt     stamp  `db:"refunded_at"`
	// Written by the treasury only, and not part of donation.Donation.
	RemittedAt  stamp  `db:"remitted_at"`
	RemittedNet int64  `db:"remitted_net"`
	ForwardID   string `db:"forward_id"`
}

// donationRows is the one query of donations: every read of a donation,
// in a transaction or not, goes through it.
func donationRows(ctx context.Context, q sqlx.ExtContext, where string, args ...any) ([]donationRow, error) {
	var rows []donationRow
	err := sqlx.SelectContext(ctx, q, &rows, q.Rebind(`SELECT `+donationColumns+` FROM donations WHERE `+where), args...)
	return rows, err
}

// selectDonations returns the donations where says.
func selectDonations(ctx context.Context, q sqlx.ExtContext, where string, args ...any) ([]donation.Donation, error) {
	rows, err := donationRows(ctx, q, where, args...)
	if err != nil {
		return nil, err
	}
	out := make([]donation.Donation, 0, len(rows))
	for _, r := range rows {
		out = append(out, r.donation())
	}
	return out, nil
}

// getDonation returns one donation by id, or an error wrapping
// donation.ErrNotFound.
func getDonation(ctx context.Context, q sqlx.ExtContext, id string) (donation.Donation, error) {
	ds, err := selectDonations(ctx, q, `id = ?`, id)
	switch {
	case err != nil:
		return donation.Donation{}, fmt.Errorf("donation %s: %w", id, err)
	case len(ds) == 0:
		return donation.Donation{}, fmt.Errorf("donation %s: %w", id, donation.ErrNotFound)
	}
	return ds[0], nil
}

func (r donationRow) donation() donation.Donation {
	return donation.Donation{
		ID:             r.ID,
		ProgramID:      r.ProgramID,
		CommitteeID:    r.CommitteeID,
		Phone:          r.Phone,
		ShortCode:      r.ShortCode,
		Amount:         r.Amount,
		Status:         donation.Status(r.Status),
		CreatedAt:      time.Time(r.CreatedAt),
		ReservedAt:     time.Time(r.ReservedAt),
		ReceivedAt:     time.Time(r.ReceivedAt),
		CertifiedAt:    time.Time(r.CertifiedAt),
		ExpiresAt:      time.Time(r.ExpiresAt),
		PINHash:        r.PINHash,
		PINTries:       r.PINTries,
		Token:          r.Token,
		ChargePostedAt: time.Time(r.ChargePostedAt),
		Correlator:     r.Correlator,
		ServerRef:      r.ServerRef,
		DeclineReason:  r.DeclineReason,
		FinishedAt:     time.Time(r.FinishedAt),
		Carrier:        r.Carrier,
		ChargeAttempts: r.ChargeAttempts,
		NextChargeAt:   time.Time(r.NextChargeAt),
		DeclineCode:    r.DeclineCode,
		CarrierFee:     r.CarrierFee,
		AggregatorFee:  r.AggregatorFee,
		RefundedAt:     time.Time(r.RefundedAt),
	}
}
