package storage

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/shortcode/shortcode/compliance/certlog"
	"github.com/shortcode/shortcode/donation"
	"github.com/shortcode/shortcode/donation/auditlog"
)

var _ auditlog.Store = (*DB)(nil)

// certLogLock is the PostgreSQL advisory lock key of the sequencer
// ("certlog" in ASCII).
const certLogLock = 0x63657274_6c6f67

// Sequence runs fn in one transaction holding the certification log's
// lock: a transaction-scoped advisory lock on PostgreSQL, the database's
// write lock (BEGIN IMMEDIATE) on SQLite. Queued certifications read in it
// are committed ones only, so none gets an index before its MO committed.
func (db *DB) Sequence(ctx context.Context, fn func(auditlog.Tx) error) error {
	return db.inTx(ctx, "", func(stx *sqlx.Tx) error {
		if db.driver == Postgres {
			if _, err := stx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, certLogLock); err != nil {
				return fmt.Errorf("log lock: %w", err)
			}
		}
		return fn(&seqTx{tx: stx})
	})
}

type seqTx struct{ tx *sqlx.Tx }

func (t *seqTx) Size(ctx context.Context) (int64, error) {
	var n int64
	if err := t.tx.GetContext(ctx, &n, `SELECT COALESCE(MAX(idx) + 1, 0) FROM cert_log`); err != nil {
		return 0, fmt.Errorf("log size: %w", err)
	}
	return n, nil
}

type queueRow struct {
	ID           string         `db:"id"`
	At           stamp          `db:"at"`
	ProgramID    string         `db:"program_id"`
	CommitteeID  string         `db:"committee_id"`
	Phone        string         `db:"phone"`
	DonationID   string         `db:"donation_id"`
	Channel      string         `db:"channel"`
	MessageID    string         `db:"message_id"`
	TextVersion  string         `db:"text_version"`
	TextSHA256   string         `db:"text_sha256"`
	TermsVersion string         `db:"terms_version"`
	TermsSHA256  string         `db:"terms_sha256"`
	Amount       int64          `db:"amount"`
	Salt         sql.NullString `db:"salt"`
	IP           string         `db:"ip"`
	UserAgent    string         `db:"user_agent"`
	Index        sql.NullInt64  `db:"idx"`
}

const queueColumns = `q.id, q.at, q.program_id, q.committee_id, q.phone, q.donation_id, q.channel, q.message_id,
	q.text_version, q.text_sha256, q.terms_version, q.terms_sha256, q.amount, q.salt, q.ip, q.user_agent`

func (r queueRow) queued() (auditlog.Queued, error) {
	q := auditlog.Queued{QueueID: r.ID, Certification: donation.Certification{
		At: time.Time(r.At), ProgramID: r.ProgramID, CommitteeID: r.CommitteeID, Phone: r.Phone,
		DonationID: r.DonationID, Channel: r.Channel, MessageID: r.MessageID,
		TextVersion: r.TextVersion, TextSHA256: r.TextSHA256, TermsVersion: r.TermsVersion, TermsSHA256: r.TermsSHA256,
		Amount: r.Amount, IP: r.IP, UserAgent: r.UserAgent,
	}}
	if r.Salt.Valid {
		b, err := hex.DecodeString(r.Salt.String)
		if err != nil || len(b) != len(q.Salt) {
			return q, fmt.Errorf("queued certification %s: bad salt", r.ID)
		}
		copy(q.Salt[:], b)
		q.HasSalt = true
	}
	return q, nil
}

// Queued returns certifications not yet in the log: those from before the
// log first, in their order, then the others in write order. A row that
// commits late is simply found by a later batch.
func (t *seqTx) Queued(ctx context.Context, limit int) ([]auditlog.Queued, error) {
	var rows []queueRow
	err := t.tx.SelectContext(ctx, &rows, t.tx.Rebind(`SELECT `+queueColumns+`, NULL AS idx
		FROM cert_pending p JOIN cert_queue q ON q.id = p.queue_id
		ORDER BY q.legacy_seq IS NULL, q.legacy_seq, q.id LIMIT ?`), limit)
	if err != nil {
		return nil, fmt.Errorf("queued certifications: %w", err)
	}
	out := make([]auditlog.Queued, 0, len(rows))
	for _, r := range rows {
		q, err := r.queued()
		if err != nil {
			return nil, err
		}
		out = append(out, q)
	}
	return out, nil
}

func (t *seqTx) ReadHashes(ctx context.Context, indexes []int64) ([]tlog.Hash, error) {
	return readHashes(ctx, t.tx, indexes)
}

// Append writes entries and hashes; the triggers of migration 8 keep them
// from ever changing.
func (t *seqTx) Append(ctx context.Context, entries []auditlog.Entry, first int64, hashes []tlog.Hash) error {
	for _, e := range entries {
		_, err := t.tx.ExecContext(ctx, t.tx.Rebind(`INSERT INTO cert_log (idx, queue_id, donation_id, record, salt, phone, ip, user_agent, logged_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`),
			e.Index, e.QueueID, e.DonationID, base64.StdEncoding.EncodeToString(e.Record),
			hex.EncodeToString(e.Opening.Salt[:]), e.Opening.Phone, e.Opening.IP, e.Opening.UserAgent, stamp(e.LoggedAt))
		if err != nil {
			return fmt.Errorf("log record %d: %w", e.Index, err)
		}
		if _, err := t.tx.ExecContext(ctx, t.tx.Rebind(`DELETE FROM cert_pending WHERE queue_id = ?`), e.QueueID); err != nil {
			return fmt.Errorf("log record %d: %w", e.Index, err)
		}
	}
	for i, h := range hashes {
		if _, err := t.tx.ExecContext(ctx, t.tx.Rebind(`INSERT INTO cert_hashes (idx, hash) VALUES (?, ?)`),
			first+int64(i), hex.EncodeToString(h[:])); err != nil {
			return fmt.Errorf("log hash %d: %w", first+int64(i), err)
		}
	}
	return nil
}

func (t *seqTx) Checkpointed(ctx context.Context, size int64) (bool, error) {
	var n int
	if err := t.tx.GetContext(ctx, &n, t.tx.Rebind(`SELECT COUNT(*) FROM cert_checkpoints WHERE size = ?`), size); err != nil {
		return false, fmt.Errorf("checkpoint %d: %w", size, err)
	}
	return n > 0, nil
}

func (t *seqTx) PutCheckpoint(ctx context.Context, size int64, signed []byte, at time.Time) error {
	_, err := t.tx.ExecContext(ctx, t.tx.Rebind(`INSERT INTO cert_checkpoints (size, signed, signed_at) VALUES (?, ?, ?)
		ON CONFLICT (size) DO NOTHING`), size, string(signed), stamp(at))
	if err != nil {
		return fmt.Errorf("checkpoint %d: %w", size, err)
	}
	return nil
}

func readHashes(ctx context.Context, q queryer, indexes []int64) ([]tlog.Hash, error) {
	if len(indexes) == 0 {
		return nil, nil
	}
	query, args, err := sqlx.In(`SELECT idx, hash FROM cert_hashes WHERE idx IN (?)`, indexes)
	if err != nil {
		return nil, err
	}
	var rows []struct {
		Idx  int64  `db:"idx"`
		Hash string `db:"hash"`
	}
	if err := sqlx.SelectContext(ctx, q, &rows, q.Rebind(query), args...); err != nil {
		return nil, fmt.Errorf("log hashes: %w", err)
	}
	byIdx := make(map[int64]tlog.Hash, len(rows))
	for _, r := range rows {
		b, err := hex.DecodeString(r.Hash)
		if err != nil || len(b) != tlog.HashSize {
			return nil, fmt.Errorf("log hash %d is corrupt", r.Idx)
		}
		var h tlog.Hash
		copy(h[:], b)
		byIdx[r.Idx] = h
	}
	out := make([]tlog.Hash, len(indexes))
	for i, idx := range indexes {
		h, ok := byIdx[idx]
		if !ok {
			return nil, fmt.Errorf("log hash %d: %w", idx, donation.ErrNotFound)
		}
		out[i] = h
	}
	return out, nil
}

// ReadHashes returns stored hashes of the log.
func (db *DB) ReadHashes(ctx context.Context, indexes []int64) ([]tlog.Hash, error) {
	return readHashes(ctx, db.db, indexes)
}

type logRow struct {
	Idx        int64  `db:"idx"`
	QueueID    string `db:"queue_id"`
	DonationID string `db:"donation_id"`
	Record     string `db:"record"`
	Salt       string `db:"salt"`
	Phone      string `db:"phone"`
	IP         string `db:"ip"`
	UserAgent  string `db:"user_agent"`
	LoggedAt   stamp  `db:"logged_at"`
}

func (r logRow) entry() (auditlog.Entry, error) {
	rec, err := base64.StdEncoding.DecodeString(r.Record)
	if err != nil {
		return auditlog.Entry{}, fmt.Errorf("log record %d is corrupt: %w", r.Idx, err)
	}
	salt, err := hex.DecodeString(r.Salt)
	if err != nil || len(salt) != len(certlog.Salt{}) {
		return auditlog.Entry{}, fmt.Errorf("log record %d: corrupt salt", r.Idx)
	}
	e := auditlog.Entry{Index: r.Idx, QueueID: r.QueueID, DonationID: r.DonationID, Record: rec,
		Opening: certlog.Opening{Phone: r.Phone, IP: r.IP, UserAgent: r.UserAgent}, LoggedAt: time.Time(r.LoggedAt)}
	copy(e.Opening.Salt[:], salt)
	return e, nil
}

// Entries returns the log's entries with indices in [from, to).
func (db *DB) Entries(ctx context.Context, from, to int64) ([]auditlog.Entry, error) {
	var rows []logRow
	err := db.db.SelectContext(ctx, &rows, db.rebind(`SELECT idx, queue_id, donation_id, record, salt, phone, ip, user_agent, logged_at
		FROM cert_log WHERE idx >= ? AND idx < ? ORDER BY idx`), from, to)
	if err != nil {
		return nil, fmt.Errorf("log entries: %w", err)
	}
	out := make([]auditlog.Entry, 0, len(rows))
	for _, r := range rows {
		e, err := r.entry()
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, nil
}

// EntryOf returns the log entry of a donation's certification.
func (db *DB) EntryOf(ctx context.Context, donationID string) (auditlog.Entry, error) {
	var r logRow
	err := db.db.GetContext(ctx, &r, db.rebind(`SELECT idx, queue_id, donation_id, record, salt, phone, ip, user_agent, logged_at
		FROM cert_log WHERE donation_id = ? ORDER BY idx DESC LIMIT 1`), donationID)
	if errors.Is(err, sql.ErrNoRows) {
		return auditlog.Entry{}, fmt.Errorf("certification of donation %s: %w", donationID, donation.ErrNotFound)
	}
	if err != nil {
		return auditlog.Entry{}, fmt.Errorf("certification of donation %s: %w", donationID, err)
	}
	return r.entry()
}

// CertText returns a certified text by its SHA-256.
func (db *DB) CertText(ctx context.Context, sha256 string) (string, error) {
	var s string
	if err := db.db.GetContext(ctx, &s, db.rebind(`SELECT body FROM cert_texts WHERE sha256 = ?`), sha256); err != nil {
		return "", fmt.Errorf("text %s: %w", sha256, notFound(err))
	}
	return s, nil
}
