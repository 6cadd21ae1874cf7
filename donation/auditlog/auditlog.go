// Package auditlog runs the certification log (SPEC §8): the sequencer that
// takes the certifications the MO path queued, gives them indices, stores
// their Merkle hashes and signs a checkpoint; and the reads that serve the
// log's tiles, proofs and evidence.
//
// No MO transaction waits on a log-wide lock: an MO only queues its record.
// One sequencer at a time (Store.Sequence) integrates what is queued and
// committed, in the order it finds it, within the maximum merge delay.
package auditlog

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"log/slog"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/shortcode/shortcode/compliance/certlog"
	"github.com/shortcode/shortcode/donation"
)

// Queued is a certification the MO path queued, waiting for an index.
type Queued struct {
	QueueID string
	donation.Certification
	// HasSalt is false for certifications recorded before the log had
	// commitments; the sequencer gives them one.
	HasSalt bool
}

// Entry is an integrated record with what opens its commitments.
type Entry struct {
	Index      int64
	QueueID    string
	DonationID string
	Record     []byte // canonical bytes (certlog.Record.Marshal)
	Opening    certlog.Opening
	LoggedAt   time.Time // when the sequencer appended it
}

// TranscriptLine is one text of a conversation.
type TranscriptLine struct {
	At        time.Time `json:"at"`
	Direction string    `json:"direction"` // "mo" (from the donor) or "mt"
	Body      string    `json:"body"`
	MessageID string    `json:"message_id,omitempty"`
	Status    string    `json:"status,omitempty"` // an MT's: sent, failed, cancelled...
}

// Store keeps the log. storage.DB implements it.
type Store interface {
	// Sequence runs fn in one transaction holding the log's lock, so that
	// one sequencer at a time, across servers, appends.
	Sequence(ctx context.Context, fn func(Tx) error) error
	// Checkpoint returns the latest signed checkpoint, or an error
	// wrapping donation.ErrNotFound when none is signed yet.
	Checkpoint(ctx context.Context) ([]byte, error)
	// ReadHashes returns the stored hashes at the given indices.
	ReadHashes(ctx context.Context, indexes []int64) ([]tlog.Hash, error)
	// Entries returns the integrated entries with indices in [from, to).
	Entries(ctx context.Context, from, to int64) ([]Entry, error)
	// EntryOf returns the entry of a donation's certification, or an
	// error wrapping donation.ErrNotFound.
	EntryOf(ctx context.Context, donationID string) (Entry, error)
}

// Tx is one transaction of Store.Sequence.
type Tx interface {
	// Size is how many records the log holds.
	Size(ctx context.Context) (int64, error)
	// Queued returns up to limit committed certifications not yet in the
	// log, older first (those recorded before the log first).
	Queued(ctx context.Context, limit int) ([]Queued, error)
	ReadHashes(ctx context.Context, indexes []int64) ([]tlog.Hash, error)
	// Append adds entries, the next indices of the log, and the hashes to
	// store from stored-hash index first on.
	Append(ctx context.Context, entries []Entry, first int64, hashes []tlog.Hash) error
	// Checkpointed tells whether a checkpoint of a tree of size size is
	// stored.
	Checkpointed(ctx context.Context, size int64) (bool, error)
	// PutCheckpoint stores the signed checkpoint of a tree of size size.
	PutCheckpoint(ctx context.Context, size int64, signed []byte, at time.Time) error
}

// Log is the certification log's service.
type Log struct {
	Store  Store
	Signer note.Signer // names the log: its name is the checkpoints' origin
	Clock  donation.Clock
	Log    *slog.Logger
	// Rand makes the salts of records that have none; crypto/rand when nil.
	Rand io.Reader
	// Batch is the most records one checkpoint adds; 1000 when zero.
	Batch int
	// Observer is told of each Integrate that committed, for metrics; nil
	// observes nothing.
	Observer Observer
}

// Observer is told what the sequencer did, for metrics. It must return
// quickly.
type Observer interface {
	// Integrated is told of each Integrate that committed: the log's size
	// after it, and for each record it appended how long that record
	// waited from being queued (its certification's time) until then;
	// records that have no time (some from before the queue) are left out.
	Integrated(size int64, waited []time.Duration)
}

// Integrate appends what is queued, up to Batch records, and signs a
// checkpoint of the new tree; with nothing queued it signs the empty tree
// once, so that a checkpoint always exists. It returns how many records it
// appended.
func (l *Log) Integrate(ctx context.Context) (int, error) {
	batch := l.batch()
	var (
		n      int
		size   int64
		queued []Queued
	)
	err := l.Store.Sequence(ctx, func(tx Tx) error {
		n, queued = 0, nil
		var err error
		if size, err = tx.Size(ctx); err != nil {
			return err
		}
		if queued, err = tx.Queued(ctx, batch); err != nil {
			return err
		}
		if len(queued) == 0 {
			if size > 0 {
				return nil
			}
			if signed, err := tx.Checkpointed(ctx, 0); signed || err != nil {
				return err
			}
		}
		r := &overlay{ctx: ctx, tx: tx, new: map[int64]tlog.Hash{}}
		entries := make([]Entry, 0, len(queued))
		first := tlog.StoredHashIndex(0, size)
		var hashes []tlog.Hash
		now := l.now()
		for i, q := range queued {
			e, err := l.entry(size+int64(i), q)
			e.LoggedAt = now
			if err != nil {
				return fmt.Errorf("certification of donation %s: %w", q.DonationID, err)
			}
			hs, err := tlog.StoredHashes(e.Index, e.Record, r)
			if err != nil {
				return err
			}
			at := tlog.StoredHashIndex(0, e.Index)
			for j, h := range hs {
				r.new[at+int64(j)] = h
			}
			hashes = append(hashes, hs...)
			entries = append(entries, e)
		}
		newSize := size + int64(len(entries))
		root, err := tlog.TreeHash(newSize, r)
		if err != nil {
			return err
		}
		signed, err := certlog.SignCheckpoint(certlog.Checkpoint{Origin: l.Signer.Name(), Tree: tlog.Tree{N: newSize, Hash: root}}, l.Signer)
		if err != nil {
			return err
		}
		if len(entries) > 0 {
			if err := tx.Append(ctx, entries, first, hashes); err != nil {
				return err
			}
		}
		n = len(entries)
		return tx.PutCheckpoint(ctx, newSize, signed, now)
	})
	if err != nil {
		return 0, fmt.Errorf("certification log: %w", err)
	}
	if l.Observer != nil {
		now := l.now()
		waited := make([]time.Duration, 0, n)
		for _, q := range queued[:n] {
			if !q.At.IsZero() {
				waited = append(waited, now.Sub(q.At))
			}
		}
		l.Observer.Integrated(size+int64(n), waited)
	}
	return n, nil
}

// entry makes the record of q at index i.
func (l *Log) entry(i int64, q Queued) (Entry, error) {
	salt := certlog.Salt(q.Salt)
	if !q.HasSalt {
		var err error
		if salt, err = certlog.NewSalt(l.rand()); err != nil {
			return Entry{}, err
		}
	}
	rec, err := q.Record(i, salt)
	if err != nil {
		return Entry{}, err
	}
	b, err := rec.Marshal()
	if err != nil {
		return Entry{}, err
	}
	return Entry{Index: i, QueueID: q.QueueID, DonationID: q.DonationID, Record: b,
		Opening: q.Opening(salt)}, nil
}

// overlay reads stored hashes from the transaction, and those of the batch
// being appended from memory.
type overlay struct {
	ctx context.Context
	tx  Tx
	new map[int64]tlog.Hash
}

func (o *overlay) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	var missing []int64
	for _, i := range indexes {
		if _, ok := o.new[i]; !ok {
			missing = append(missing, i)
		}
	}
	stored, err := o.tx.ReadHashes(o.ctx, missing)
	if err != nil {
		return nil, err
	}
	k := 0
	for j, i := range indexes {
		if h, ok := o.new[i]; ok {
			out[j] = h
			continue
		}
		out[j] = stored[k]
		k++
	}
	return out, nil
}

// Run integrates every delay until ctx is done, and at once when woken.
func (l *Log) Run(ctx context.Context, delay time.Duration, wake <-chan struct{}) {
	if delay <= 0 {
		delay = time.Second
	}
	t := time.NewTicker(delay / 2)
	defer t.Stop()
	for {
		for {
			n, err := l.Integrate(ctx)
			if err != nil && ctx.Err() == nil {
				l.log().Error("certification log", "err", err)
			}
			if n < l.batch() || err != nil {
				break
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-wake:
		}
	}
}

func (l *Log) batch() int {
	if l.Batch <= 0 {
		return 1000
	}
	return l.Batch
}

func (l *Log) now() time.Time {
	if l.Clock == nil {
		return time.Now().UTC()
	}
	return l.Clock.Now().UTC()
}

func (l *Log) rand() io.Reader {
	if l.Rand == nil {
		return rand.Reader
	}
	return l.Rand
}

func (l *Log) log() *slog.Logger {
	if l.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return l.Log
}

// HashReader reads the store's hashes, for tiles and proofs.
func (l *Log) HashReader(ctx context.Context) tlog.HashReader {
	return tlog.HashReaderFunc(func(indexes []int64) ([]tlog.Hash, error) {
		return l.Store.ReadHashes(ctx, indexes)
	})
}
