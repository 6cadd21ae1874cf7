package storage

import (
	"context"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/shortcode/shortcode/compliance"
	"github.com/shortcode/shortcode/donation"
)

// Charging returns the open donations whose charge was posted but whose
// outcome is not recorded yet, oldest post first.
func (db *DB) Charging(ctx context.Context) ([]donation.Donation, error) {
	d, err := db.donations(ctx, `status = ? AND charge_posted_at IS NOT NULL ORDER BY charge_posted_at, id`, string(donation.Open))
	if err != nil {
		return nil, fmt.Errorf("charging donations: %w", err)
	}
	return d, nil
}

// Due returns the open donations whose expiry is at or before now and whose
// charge has not been posted (a posted charge runs to its end), soonest
// expiry first.
func (db *DB) Due(ctx context.Context, now time.Time) ([]donation.Donation, error) {
	d, err := db.donations(ctx, `status = ? AND expires_at IS NOT NULL AND expires_at <= ? AND charge_posted_at IS NULL
		ORDER BY expires_at, id`, string(donation.Open), stamp(now))
	if err != nil {
		return nil, fmt.Errorf("due donations: %w", err)
	}
	return d, nil
}

// Donations returns every donation of a phone number, oldest first.
func (db *DB) Donations(ctx context.Context, phone string) ([]donation.Donation, error) {
	d, err := db.donations(ctx, `phone = ? ORDER BY COALESCE(created_at, ''), id`, phone)
	if err != nil {
		return nil, fmt.Errorf("donations of %s: %w", compliance.MaskPhone(phone), err)
	}
	return d, nil
}

func (db *DB) donations(ctx context.Context, where string, args ...any) ([]donation.Donation, error) {
	return selectDonations(ctx, db.db, where, args...)
}

// CertificationRecord is a certification as recorded, with its place in
// the log: Seq is its index plus one (1, 2, 3, ... without gaps), or 0
// while it waits in the queue for the sequencer.
type CertificationRecord struct {
	Seq int64
	donation.Certification
}

// Certifications returns every certification, those in the log in log
// order, then those still queued.
func (db *DB) Certifications(ctx context.Context) ([]CertificationRecord, error) {
	return selectCertifications(ctx, db.db, `1 = 1`)
}

// selectCertifications returns the certifications (cert_queue q) that
// where picks, in log order, then those still queued.
func selectCertifications(ctx context.Context, q queryer, where string, args ...any) ([]CertificationRecord, error) {
	var rows []queueRow
	if err := sqlx.SelectContext(ctx, q, &rows, q.Rebind(`SELECT `+queueColumns+`, l.idx FROM cert_queue q
		LEFT JOIN cert_log l ON l.queue_id = q.id WHERE `+where+`
		ORDER BY l.idx IS NULL, l.idx, q.legacy_seq IS NULL, q.legacy_seq, q.id`), args...); err != nil {
		return nil, fmt.Errorf("certifications: %w", err)
	}
	out := make([]CertificationRecord, 0, len(rows))
	for _, r := range rows {
		c, err := r.queued()
		if err != nil {
			return nil, err
		}
		rec := CertificationRecord{Certification: c.Certification}
		if r.Index.Valid {
			rec.Seq = r.Index.Int64 + 1
		}
		out = append(out, rec)
	}
	return out, nil
}

// ConsentEvents returns the opt-outs and re-opt-ins of a phone number, in
// the order they were written.
func (db *DB) ConsentEvents(ctx context.Context, phone string) ([]donation.ConsentEvent, error) {
	var rows []struct {
		Phone     string `db:"phone"`
		ShortCode string `db:"short_code"`
		At        stamp  `db:"at"`
		Kind      string `db:"kind"`
		MessageID string `db:"message_id"`
		Body      string `db:"body"`
		Inferred  bool   `db:"inferred"`
	}
	if err := db.db.SelectContext(ctx, &rows, db.rebind(`SELECT phone, short_code, at, kind, message_id, body, inferred
		FROM consent_events WHERE phone = ? ORDER BY id`), phone); err != nil {
		return nil, fmt.Errorf("consent events of %s: %w", compliance.MaskPhone(phone), err)
	}
	out := make([]donation.ConsentEvent, 0, len(rows))
	for _, r := range rows {
		out = append(out, donation.ConsentEvent{
			Phone: r.Phone, ShortCode: r.ShortCode, At: time.Time(r.At), Kind: r.Kind,
			MessageID: r.MessageID, Text: r.Body, Inferred: r.Inferred,
		})
	}
	return out, nil
}

// MOs returns every inbound message from a phone number, oldest first.
func (db *DB) MOs(ctx context.Context, phone string) ([]donation.MO, error) {
	var rows []struct {
		Gateway    string `db:"gateway"`
		MessageID  string `db:"message_id"`
		Phone      string `db:"phone"`
		ShortCode  string `db:"short_code"`
		Body       string `db:"body"`
		ReceivedAt stamp  `db:"received_at"`
	}
	if err := db.db.SelectContext(ctx, &rows, db.rebind(`SELECT gateway, message_id, phone, short_code, body, received_at
		FROM mos WHERE phone = ? ORDER BY COALESCE(received_at, ''), gateway, message_id`), phone); err != nil {
		return nil, fmt.Errorf("MOs of %s: %w", compliance.MaskPhone(phone), err)
	}
	out := make([]donation.MO, 0, len(rows))
	for _, r := range rows {
		out = append(out, donation.MO{
			Gateway: r.Gateway, MessageID: r.MessageID, From: r.Phone, To: r.ShortCode,
			Body: r.Body, At: time.Time(r.ReceivedAt),
		})
	}
	return out, nil
}

// MOCount returns how many distinct inbound messages are stored.
func (db *DB) MOCount(ctx context.Context) (int, error) {
	var n int
	if err := db.db.GetContext(ctx, &n, `SELECT COUNT(*) FROM mos`); err != nil {
		return 0, fmt.Errorf("count MOs: %w", err)
	}
	return n, nil
}

// DonationByToken returns the donation whose page token is token, or an
// error wrapping donation.ErrNotFound.
func (db *DB) DonationByToken(ctx context.Context, token string) (donation.Donation, error) {
	if token == "" {
		return donation.Donation{}, fmt.Errorf("donation page: %w", donation.ErrNotFound)
	}
	ds, err := db.donations(ctx, `token = ?`, token)
	if err != nil {
		return donation.Donation{}, err
	}
	if len(ds) != 1 {
		return donation.Donation{}, fmt.Errorf("donation page: %w", donation.ErrNotFound)
	}
	return ds[0], nil
}

// TermsText returns the full terms of program programID in version, as
// certified to by a donor (kept in cert_texts by its SHA-256), or an error
// wrapping donation.ErrNotFound when no certification recorded it.
func (db *DB) TermsText(ctx context.Context, programID, version string) (string, error) {
	var s string
	err := db.db.GetContext(ctx, &s, db.rebind(`SELECT t.body FROM cert_texts t
		JOIN cert_queue q ON q.terms_sha256 = t.sha256
		WHERE q.program_id = ? AND q.terms_version = ? LIMIT 1`), programID, version)
	if err != nil {
		return "", fmt.Errorf("terms %s of program %q: %w", version, programID, notFound(err))
	}
	return s, nil
}

// Verification returns the evidence of a donation's correct PIN (SPEC §8),
// or an error wrapping donation.ErrNotFound when none came.
func (db *DB) Verification(ctx context.Context, donationID string) (donation.PINVerification, error) {
	var r struct {
		DonationID string `db:"donation_id"`
		At         stamp  `db:"at"`
		Channel    string `db:"channel"`
		MessageID  string `db:"message_id"`
		IP         string `db:"ip"`
		UserAgent  string `db:"user_agent"`
	}
	err := db.db.GetContext(ctx, &r, db.rebind(`SELECT donation_id, at, channel, message_id, ip, user_agent
		FROM pin_verifications WHERE donation_id = ?`), donationID)
	if err != nil {
		return donation.PINVerification{}, fmt.Errorf("PIN verification of donation %s: %w", donationID, notFound(err))
	}
	return donation.PINVerification{DonationID: r.DonationID, At: time.Time(r.At), Channel: r.Channel,
		MessageID: r.MessageID, IP: r.IP, UserAgent: r.UserAgent}, nil
}
