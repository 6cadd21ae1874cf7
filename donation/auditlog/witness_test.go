package auditlog_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"filippo.io/torchwood"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/shortcode/shortcode/compliance/certlog"
	"github.com/shortcode/shortcode/donation"
	"github.com/shortcode/shortcode/donation/auditlog"
	"github.com/shortcode/shortcode/donation/donationtest"
)

// memLog is a log kept in memory: the Cosigner's store.
type memLog struct {
	t      *testing.T
	signer note.Signer

	mu     sync.Mutex
	hashes []tlog.Hash
	n      int64
	signed map[int64][]byte
	cosigs map[int64][]note.Signature
}

func newMemLog(t *testing.T) (*memLog, note.Verifier) {
	skey, vkey, err := note.GenerateKey(rand.Reader, "log.example/shortcode")
	if err != nil {
		t.Fatal(err)
	}
	s, _ := note.NewSigner(skey)
	v, _ := note.NewVerifier(vkey)
	return &memLog{t: t, signer: s, signed: map[int64][]byte{}, cosigs: map[int64][]note.Signature{}}, v
}

// grow appends k records and signs a checkpoint of the new tree.
func (m *memLog) grow(k int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for range k {
		hs, err := tlog.StoredHashes(m.n, fmt.Appendf(nil, "record %d", m.n), m.reader())
		if err != nil {
			m.t.Fatal(err)
		}
		m.hashes = append(m.hashes, hs...)
		m.n++
	}
	root, err := tlog.TreeHash(m.n, m.reader())
	if err != nil {
		m.t.Fatal(err)
	}
	signed, err := certlog.SignCheckpoint(certlog.Checkpoint{Origin: m.signer.Name(), Tree: tlog.Tree{N: m.n, Hash: root}}, m.signer)
	if err != nil {
		m.t.Fatal(err)
	}
	m.signed[m.n] = signed
}

func (m *memLog) reader() tlog.HashReader {
	return tlog.HashReaderFunc(func(ix []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(ix))
		for i, x := range ix {
			if x >= int64(len(m.hashes)) {
				return nil, fmt.Errorf("no hash %d", x)
			}
			out[i] = m.hashes[x]
		}
		return out, nil
	})
}

func (m *memLog) Checkpoint(context.Context) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	signed, ok := m.signed[m.n]
	if !ok {
		return nil, donation.ErrNotFound
	}
	return certlog.AppendSignatures(signed, m.cosigs[m.n]...), nil
}

func (m *memLog) ReadHashes(_ context.Context, ix []int64) ([]tlog.Hash, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.reader().ReadHashes(ix)
}

func (m *memLog) AddCosignatures(_ context.Context, size int64, sigs []note.Signature, _ time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.cosigs[size] = append(m.cosigs[size], sigs...)
	return nil
}

// fakeWitness checks consistency as c2sp.org/tlog-witness asks of a
// witness, and cosigns with torchwood's cosigner.
type fakeWitness struct {
	name   string
	log    note.Verifier
	signer *torchwood.CosignatureSigner

	mu    sync.Mutex
	tree  tlog.Tree // the latest it cosigned
	calls int
	fail  error               // answers this instead, if set
	hang  bool                // answers nothing until the context is done
	edit  func([]byte) []byte // changes the answer
}

func newWitness(t *testing.T, name string, log note.Verifier) *fakeWitness {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := torchwood.NewCosignatureSigner(name, priv)
	if err != nil {
		t.Fatal(err)
	}
	return &fakeWitness{name: name, log: log, signer: s}
}

func (w *fakeWitness) String() string { return w.name }

// key is the witness's verifier as the log is configured with it.
func (w *fakeWitness) key(t *testing.T) note.Verifier {
	v, err := certlog.NewCosignatureVerifier(w.signer.Verifier().String())
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func (w *fakeWitness) AddCheckpoint(ctx context.Context, size int64, signed []byte, prove func(int64) (tlog.TreeProof, error)) ([]byte, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.calls++
	if w.hang {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	if w.fail != nil {
		return nil, w.fail
	}
	c, err := certlog.OpenCheckpoint(signed, w.log)
	if err != nil || c.N != size {
		return nil, fmt.Errorf("403: %v", err)
	}
	if w.tree.N > 0 {
		p, err := prove(w.tree.N)
		if err != nil {
			return nil, err
		}
		if err := tlog.CheckTree(p, c.N, c.Hash, w.tree.N, w.tree.Hash); err != nil {
			return nil, fmt.Errorf("422: %v", err)
		}
	}
	n, _ := note.Open(signed, note.VerifierList(w.log))
	msg, err := note.Sign(&note.Note{Text: n.Text}, w.signer)
	if err != nil {
		return nil, err
	}
	w.tree = c.Tree
	lines := msg[len(n.Text)+1:]
	if w.edit != nil {
		lines = w.edit(lines)
	}
	return lines, nil
}

func (w *fakeWitness) cosigned() (tlog.Tree, int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.tree, w.calls
}

// servedBy returns the sorted names of the valid signatures of the served
// checkpoint, which must open with the log's key alone.
func servedBy(t *testing.T, m *memLog, logKey note.Verifier, keys ...note.Verifier) (int64, []string) {
	t.Helper()
	served, err := m.Checkpoint(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	c, err := certlog.OpenCheckpoint(served, logKey)
	if err != nil {
		t.Fatalf("the served checkpoint does not open with the log's key: %v\n%s", err, served)
	}
	n, err := note.Open(served, note.VerifierList(append([]note.Verifier{logKey}, keys...)...))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range n.Sigs {
		names = append(names, s.Name)
	}
	slices.Sort(names)
	return c.N, names
}

// TestCosigner: each new checkpoint goes to every witness, with a proof of
// consistency from the tree the witness last cosigned, and is served with
// their cosignatures. A witness that fails is logged and asked again with
// the next checkpoint, or after Retry; the others are not held up.
func TestCosigner(t *testing.T) {
	ctx := context.Background()
	m, logKey := newMemLog(t)
	w1, w2, bad := newWitness(t, "w1.example/w", logKey), newWitness(t, "w2.example/w", logKey), newWitness(t, "bad.example/w", logKey)
	bad.fail = errors.New("503 Service Unavailable")
	clock := donationtest.NewClock(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	var logs bytes.Buffer
	c := &auditlog.Cosigner{Store: m, Verifier: logKey, Witnesses: []auditlog.Witness{w1, bad, w2},
		Keys: note.VerifierList(w1.key(t), w2.key(t), bad.key(t)), Clock: clock,
		Log: slog.New(slog.NewTextHandler(&logs, nil)), Retry: time.Minute}

	if err := c.Cosign(ctx); err != nil {
		t.Fatalf("Cosign with no checkpoint: %v", err)
	}
	m.grow(0) // the empty tree: nothing to witness
	if err := c.Cosign(ctx); err != nil {
		t.Fatal(err)
	}
	if _, calls := w1.cosigned(); calls != 0 {
		t.Errorf("the empty tree was sent to a witness")
	}

	for _, step := range []struct {
		grow      int
		after     time.Duration
		calls     int // w1's, w2's
		failCalls int // bad's
	}{
		{grow: 3, calls: 1, failCalls: 1},
		{calls: 1, failCalls: 1},                     // nothing new, retry not due
		{grow: 4, calls: 2, failCalls: 2},            // the next checkpoint: asked again
		{after: time.Minute, calls: 2, failCalls: 3}, // the same checkpoint a minute later
		{grow: 1000, calls: 3, failCalls: 4},         // a batch that crosses tiles
		{after: time.Second, calls: 3, failCalls: 4},
	} {
		m.grow(step.grow)
		clock.Advance(step.after)
		if err := c.Cosign(ctx); err != nil {
			t.Fatal(err)
		}
		size, names := servedBy(t, m, logKey, w1.key(t), w2.key(t))
		if want := []string{"log.example/shortcode", "w1.example/w", "w2.example/w"}; strings.Join(names, " ") != strings.Join(want, " ") {
			t.Errorf("size %d: signed by %v, want %v", size, names, want)
		}
		for _, w := range []*fakeWitness{w1, w2} {
			if tree, calls := w.cosigned(); tree.N != size || calls != step.calls {
				t.Errorf("%s cosigned size %d after %d requests, want %d after %d", w.name, tree.N, calls, size, step.calls)
			}
		}
		if _, calls := bad.cosigned(); calls != step.failCalls {
			t.Errorf("size %d: the failing witness was asked %d times, want %d", size, calls, step.failCalls)
		}
	}
	if n := strings.Count(logs.String(), `level=ERROR msg=witness witness=bad.example/w`); n != 4 {
		t.Errorf("%d errors logged for the failing witness, want 4:\n%s", n, &logs)
	}
	if !strings.Contains(logs.String(), `err="503 Service Unavailable"`) {
		t.Errorf("the witness's error is not logged:\n%s", &logs)
	}
}

// TestCosignerWitnessCatchesUp: a witness that cosigned a tree the
// Cosigner has not seen (it is new, or another server sent it) is proved
// consistency from that tree.
func TestCosignerWitnessCatchesUp(t *testing.T) {
	ctx := context.Background()
	m, logKey := newMemLog(t)
	w := newWitness(t, "w.example/w", logKey)
	m.grow(5)
	first := &auditlog.Cosigner{Store: m, Verifier: logKey, Witnesses: []auditlog.Witness{w}, Keys: note.VerifierList(w.key(t))}
	if err := first.Cosign(ctx); err != nil {
		t.Fatal(err)
	}
	m.grow(6)
	second := &auditlog.Cosigner{Store: m, Verifier: logKey, Witnesses: []auditlog.Witness{w}, Keys: note.VerifierList(w.key(t))}
	if err := second.Cosign(ctx); err != nil {
		t.Fatal(err)
	}
	if tree, _ := w.cosigned(); tree.N != 11 {
		t.Errorf("the witness cosigned size %d, want 11", tree.N)
	}
}

// TestCosignerDrops what is not a valid cosignature by a witness key: a
// signature by another key, an invalid one, or no signature line at all.
// Nothing of it is served; the log's checkpoint still is.
func TestCosignerDrops(t *testing.T) {
	for _, tt := range []struct {
		name string
		edit func(w *fakeWitness, lines []byte) []byte
	}{
		{"another key", nil},
		{"invalid signature", func(_ *fakeWitness, lines []byte) []byte {
			i := bytes.LastIndexByte(lines, ' ')
			sig, err := base64.StdEncoding.DecodeString(string(bytes.TrimSpace(lines[i+1:])))
			if err != nil {
				t.Fatal(err)
			}
			sig[len(sig)-1] ^= 1
			return append(lines[:i+1:i+1], base64.StdEncoding.EncodeToString(sig)+"\n"...)
		}},
		{"not a signature line", func(_ *fakeWitness, lines []byte) []byte { return []byte("ok\n") }},
		{"an unterminated line", func(_ *fakeWitness, lines []byte) []byte { return bytes.TrimSuffix(lines, []byte("\n")) }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			m, logKey := newMemLog(t)
			w, other := newWitness(t, "w.example/w", logKey), newWitness(t, "w.example/w", logKey)
			if tt.edit != nil {
				w.edit = func(lines []byte) []byte { return tt.edit(w, lines) }
			}
			key := w.key(t)
			if tt.edit == nil {
				key = other.key(t) // the same name, another key
			}
			var logs bytes.Buffer
			c := &auditlog.Cosigner{Store: m, Verifier: logKey, Witnesses: []auditlog.Witness{w}, Keys: note.VerifierList(key),
				Log: slog.New(slog.NewTextHandler(&logs, nil))}
			m.grow(2)
			if err := c.Cosign(context.Background()); err != nil {
				t.Fatal(err)
			}
			served, err := m.Checkpoint(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if strings.Count(string(served), "\n— ") != 1 {
				t.Errorf("served:\n%s", served)
			}
			if !strings.Contains(logs.String(), "level=ERROR msg=witness witness=w.example/w size=2") {
				t.Errorf("not logged:\n%s", &logs)
			}
		})
	}
}

// TestCosignerTimeout: a witness that does not answer is given up after
// Timeout; the others' cosignatures are stored meanwhile.
func TestCosignerTimeout(t *testing.T) {
	m, logKey := newMemLog(t)
	w, silent := newWitness(t, "w.example/w", logKey), newWitness(t, "silent.example/w", logKey)
	silent.hang = true
	c := &auditlog.Cosigner{Store: m, Verifier: logKey, Witnesses: []auditlog.Witness{silent, w},
		Keys: note.VerifierList(w.key(t), silent.key(t)), Timeout: 100 * time.Millisecond}
	m.grow(3)
	start := time.Now()
	if err := c.Cosign(context.Background()); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Cosign took %v with a silent witness and a timeout of 100ms", d)
	}
	if _, names := servedBy(t, m, logKey, w.key(t)); len(names) != 2 {
		t.Errorf("signed by %v, want the log and w.example/w", names)
	}
}
