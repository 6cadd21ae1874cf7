package auditlog

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/shortcode/shortcode/compliance/certlog"
	"github.com/shortcode/shortcode/donation"
)

// A Witness cosigns the log's checkpoints (c2sp.org/tlog-witness): it
// checks that each checkpoint it is sent is consistent with the last one
// it cosigned, so that the log cannot show two histories, and signs it.
// *witness.Client (compliance/certlog/witness) is one over HTTP.
type Witness interface {
	// AddCheckpoint submits signed, the log's signed checkpoint of a tree
	// of size size, and returns the witness's cosignature lines. prove
	// returns the proof that the tree is consistent with the tree of size
	// old that the witness last cosigned.
	AddCheckpoint(ctx context.Context, size int64, signed []byte, prove func(old int64) (tlog.TreeProof, error)) ([]byte, error)
}

// CosignatureStore keeps the witnesses' cosignatures beside the log's
// checkpoints. storage.DB implements it.
type CosignatureStore interface {
	// Checkpoint returns the latest signed checkpoint with the
	// cosignatures stored for it, or an error wrapping
	// donation.ErrNotFound when none is signed yet.
	Checkpoint(ctx context.Context) ([]byte, error)
	ReadHashes(ctx context.Context, indexes []int64) ([]tlog.Hash, error)
	// AddCosignatures stores cosignatures of the checkpoint of a tree of
	// size size. A key's first cosignature of a checkpoint is kept; later
	// ones are ignored.
	AddCosignatures(ctx context.Context, size int64, sigs []note.Signature, at time.Time) error
}

// A Cosigner sends the log's latest checkpoint to its witnesses whenever
// the log grows, and keeps the cosignatures they return, which the store's
// Checkpoint then serves with it.
//
// Witnesses never hold the log up: the Cosigner runs beside the sequencer,
// asks its witnesses at once, and waits at most Timeout for each. A witness
// that fails is logged and asked again with the next checkpoint, or after
// Retry if the log does not grow.
type Cosigner struct {
	Store CosignatureStore
	// Verifier is the log's key.
	Verifier  note.Verifier
	Witnesses []Witness
	// Keys are the witnesses' keys (certlog.NewCosignatureVerifier).
	// Signatures by any other key are dropped, as c2sp.org/tlog-witness
	// asks, and an invalid one makes the whole answer rejected.
	Keys  note.Verifiers
	Clock donation.Clock
	Log   *slog.Logger
	// Timeout bounds one witness's answer; 5 s when zero.
	Timeout time.Duration
	// Retry is how long a witness that failed waits before it is sent the
	// same checkpoint again; a minute when zero.
	Retry time.Duration

	mu    sync.Mutex
	state []witnessState // by index in Witnesses
}

// witnessState is what the Cosigner remembers of a witness.
type witnessState struct {
	cosigned int64 // the largest size it cosigned
	failed   int64 // the size it last failed to cosign, 0 if none
	failedAt time.Time
}

// Cosign sends the latest checkpoint to the witnesses that have not
// cosigned it yet and stores their cosignatures. A witness's failure is
// logged, not returned: it returns only an error reading the checkpoint.
func (c *Cosigner) Cosign(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	stored, err := c.Store.Checkpoint(ctx)
	if errors.Is(err, donation.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	n, err := note.Open(stored, note.VerifierList(c.Verifier))
	if err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	cp, err := certlog.ParseCheckpoint(n.Text)
	if err != nil {
		return err
	}
	if cp.Origin != c.Verifier.Name() {
		return fmt.Errorf("checkpoint: origin %q is not the log's, %q", cp.Origin, c.Verifier.Name())
	}
	if cp.N == 0 {
		return nil // the empty tree: nothing to witness
	}
	// The witnesses get the checkpoint with the log's signature alone.
	signed := certlog.AppendSignatures([]byte(n.Text+"\n"), n.Sigs...)

	if len(c.state) != len(c.Witnesses) {
		c.state = make([]witnessState, len(c.Witnesses))
	}
	now := c.now()
	var wg sync.WaitGroup
	for i, w := range c.Witnesses {
		st := &c.state[i]
		if st.cosigned >= cp.N || st.failed == cp.N && now.Before(st.failedAt.Add(c.retry())) {
			continue
		}
		wg.Go(func() {
			stored, err := c.cosign(ctx, w, cp, n.Text, signed)
			if err != nil {
				if ctx.Err() == nil {
					c.log().Error("witness", "witness", fmt.Sprint(w), "size", cp.N, "err", err)
				}
				st.failed, st.failedAt = cp.N, now
				return
			}
			// Said once, and again after a failure; then only in debug.
			level := slog.LevelDebug
			if st.cosigned == 0 || st.failed != 0 {
				level = slog.LevelInfo
			}
			st.cosigned, st.failed = cp.N, 0
			c.log().Log(ctx, level, "witness cosigned the log's checkpoint", "witness", fmt.Sprint(w), "size", cp.N, "cosignatures", stored)
		})
	}
	wg.Wait()
	return nil
}

// cosign asks w to cosign the checkpoint and stores the cosignatures by
// known keys it returns; it returns how many.
func (c *Cosigner) cosign(ctx context.Context, w Witness, cp certlog.Checkpoint, text string, signed []byte) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout())
	defer cancel()
	hashes := tlog.HashReaderFunc(func(ix []int64) ([]tlog.Hash, error) { return c.Store.ReadHashes(ctx, ix) })
	prove := func(old int64) (tlog.TreeProof, error) {
		if old < 1 || old > cp.N {
			return nil, fmt.Errorf("no proof from a tree of size %d to one of size %d", old, cp.N)
		}
		return tlog.ProveTree(cp.N, old, hashes)
	}
	lines, err := w.AddCheckpoint(ctx, cp.N, signed, prove)
	if err != nil {
		return 0, err
	}
	// The answer is signature lines: with the checkpoint's text they make
	// a note that the witnesses' keys must open.
	cosigned, err := note.Open(append([]byte(text+"\n"), lines...), c.Keys)
	var unverified *note.UnverifiedNoteError
	if errors.As(err, &unverified) {
		return 0, errors.New("the witness answered no cosignature by a known witness key")
	}
	if err != nil {
		return 0, fmt.Errorf("the witness's answer: %w", err)
	}
	if err := c.Store.AddCosignatures(ctx, cp.N, cosigned.Sigs, c.now()); err != nil {
		return 0, err
	}
	return len(cosigned.Sigs), nil
}

// Run cosigns the latest checkpoint every interval until ctx is done.
func (c *Cosigner) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if err := c.Cosign(ctx); err != nil && ctx.Err() == nil {
			c.log().Error("witnesses", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (c *Cosigner) timeout() time.Duration {
	if c.Timeout <= 0 {
		return 5 * time.Second
	}
	return c.Timeout
}

func (c *Cosigner) retry() time.Duration {
	if c.Retry <= 0 {
		return time.Minute
	}
	return c.Retry
}

func (c *Cosigner) now() time.Time {
	if c.Clock == nil {
		return time.Now().UTC()
	}
	return c.Clock.Now().UTC()
}

func (c *Cosigner) log() *slog.Logger {
	if c.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return c.Log
}
