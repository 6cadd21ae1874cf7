package witness_test

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/shortcode/shortcode/compliance/certlog/witness"
)

// checkpoint stands for a signed checkpoint: the client sends it as it is.
const checkpoint = "log.example/l\n5\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n\n— log.example/l c2lnbmF0dXJl\n"

// fakeWitness answers add-checkpoint as c2sp.org/tlog-witness says a
// witness does, for one log whose last cosigned size it keeps, recording
// each request's body.
type fakeWitness struct {
	mu     sync.Mutex
	size   int64
	bodies []string
	answer func(w http.ResponseWriter, old int64) bool // answers instead, if it returns true
}

func (f *fakeWitness) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/w/add-checkpoint" {
		http.NotFound(w, r)
		return
	}
	b, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.bodies = append(f.bodies, string(b))
	first, _, _ := strings.Cut(string(b), "\n")
	old, err := strconv.ParseInt(strings.TrimPrefix(first, "old "), 10, 64)
	if err != nil {
		http.Error(w, "bad old size", http.StatusBadRequest)
		return
	}
	if f.answer != nil && f.answer(w, old) {
		return
	}
	if old != f.size {
		w.Header().Set("Content-Type", "text/x.tlog.size")
		w.WriteHeader(http.StatusConflict)
		fmt.Fprintf(w, "%d\n", f.size)
		return
	}
	f.size = 5
	io.WriteString(w, "— witness.example/w AAAAAQ==\n")
}

func (f *fakeWitness) requests() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.bodies...)
}

func start(t *testing.T, f *fakeWitness) *witness.Client {
	t.Helper()
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return &witness.Client{URL: srv.URL + "/w/", HTTP: srv.Client()}
}

func hash(s string) tlog.Hash { return sha256.Sum256([]byte(s)) }

// proofFrom is a stand-in consistency proof that names the old size.
func proofFrom(old int64) (tlog.TreeProof, error) {
	return tlog.TreeProof{hash(strconv.FormatInt(old, 10)), hash("x")}, nil
}

// TestAddCheckpoint: the request is the old size, the proof's hashes in
// base64, an empty line and the checkpoint, each line ending in a newline;
// the answer's signature lines are returned as they are. The next request
// proves from the size just cosigned.
func TestAddCheckpoint(t *testing.T) {
	f := &fakeWitness{}
	c := start(t, f)
	sigs, err := c.AddCheckpoint(context.Background(), 5, []byte(checkpoint), func(int64) (tlog.TreeProof, error) {
		t.Error("prove called for a witness that knows no tree")
		return nil, nil
	})
	if err != nil || string(sigs) != "— witness.example/w AAAAAQ==\n" {
		t.Fatalf("AddCheckpoint = %q, %v", sigs, err)
	}
	if got := f.requests(); len(got) != 1 || got[0] != "old 0\n\n"+checkpoint {
		t.Errorf("request bodies %q", got)
	}

	if _, err := c.AddCheckpoint(context.Background(), 5, []byte(checkpoint), proofFrom); err != nil {
		t.Fatal(err)
	}
	want := "old 5\n" + hash("5").String() + "\n" + hash("x").String() + "\n\n" + checkpoint
	if got := f.requests(); len(got) != 2 || got[1] != want {
		t.Errorf("second request %q, want %q", got[1:], want)
	}
}

// TestAddCheckpointConflict: a witness that cosigned a tree of another
// size says so with "409 Conflict" and the size; the client proves from
// that size and submits once more, and remembers it.
func TestAddCheckpointConflict(t *testing.T) {
	f := &fakeWitness{size: 3}
	c := start(t, f)
	var proved []int64
	prove := func(old int64) (tlog.TreeProof, error) {
		proved = append(proved, old)
		return proofFrom(old)
	}
	if _, err := c.AddCheckpoint(context.Background(), 5, []byte(checkpoint), prove); err != nil {
		t.Fatal(err)
	}
	got := f.requests()
	if len(got) != 2 || !strings.HasPrefix(got[0], "old 0\n\n") || !strings.HasPrefix(got[1], "old 3\n"+hash("3").String()+"\n") {
		t.Errorf("requests %q", got)
	}
	if len(proved) != 1 || proved[0] != 3 {
		t.Errorf("proved from %v, want [3]", proved)
	}
}

// TestAddCheckpointRefused: the answers that give no cosignature are errors
// that say what the witness said.
func TestAddCheckpointRefused(t *testing.T) {
	for _, tt := range []struct {
		name   string
		answer func(w http.ResponseWriter, old int64) bool
		want   string
	}{
		{"unknown log", func(w http.ResponseWriter, _ int64) bool {
			http.Error(w, "unknown log", http.StatusNotFound)
			return true
		}, `404 Not Found: "unknown log"`},
		{"bad proof", func(w http.ResponseWriter, old int64) bool {
			if old == 0 {
				return false // 409
			}
			http.Error(w, "bad consistency proof", http.StatusUnprocessableEntity)
			return true
		}, `422 Unprocessable Entity: "bad consistency proof"`},
		{"larger tree", func(w http.ResponseWriter, _ int64) bool {
			w.WriteHeader(http.StatusConflict)
			io.WriteString(w, "9\n")
			return true
		}, "it cosigned a tree of size 9, larger than this checkpoint's 5"},
		{"another tree of the same size", func(w http.ResponseWriter, old int64) bool {
			if old == 0 {
				return false // 409
			}
			w.WriteHeader(http.StatusConflict)
			fmt.Fprintf(w, "%d\n", old)
			return true
		}, "it cosigned a tree of size 2 that this checkpoint is not consistent with"},
		{"conflict twice", func(w http.ResponseWriter, old int64) bool {
			w.WriteHeader(http.StatusConflict)
			fmt.Fprintf(w, "%d\n", old+1)
			return true
		}, "409 Conflict: the witness cosigned a tree of size 2"},
		{"conflict without a size", func(w http.ResponseWriter, _ int64) bool {
			w.WriteHeader(http.StatusConflict)
			io.WriteString(w, "conflict")
			return true
		}, `409 Conflict with no tree size: "conflict"`},
		{"empty answer", func(w http.ResponseWriter, _ int64) bool {
			return true
		}, "200 OK with no cosignature"},
		{"huge answer", func(w http.ResponseWriter, _ int64) bool {
			io.WriteString(w, strings.Repeat("— w AAAAAQ==\n", 10000))
			return true
		}, "an answer over 65536 bytes"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeWitness{size: 2, answer: tt.answer}
			c := start(t, f)
			sigs, err := c.AddCheckpoint(context.Background(), 5, []byte(checkpoint), proofFrom)
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), c.URL) {
				t.Errorf("AddCheckpoint = %q, %v, want an error naming the witness and %q", sigs, err, tt.want)
			}
		})
	}
}

// TestAddCheckpointTimeout: a witness that does not answer holds the client
// no longer than its context allows.
func TestAddCheckpointTimeout(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(func() { close(release); srv.Close() })
	c := &witness.Client{URL: srv.URL}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := c.AddCheckpoint(ctx, 5, []byte(checkpoint), proofFrom)
	if err == nil || time.Since(start) > 5*time.Second {
		t.Errorf("AddCheckpoint to a silent witness: %v after %v", err, time.Since(start))
	}
}
