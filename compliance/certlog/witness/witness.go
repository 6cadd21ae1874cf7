// Package witness is a client of the c2sp.org/tlog-witness protocol: it
// submits a log's signed checkpoints to a witness, each with a proof that
// it is consistent with the last checkpoint the witness cosigned, and
// returns the witness's cosignatures (c2sp.org/tlog-cosignature).
//
// The client only carries the protocol: it neither makes proofs nor checks
// the cosignatures it returns, which its caller does with the witnesses'
// keys (certlog.NewCosignatureVerifier).
package witness

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/mod/sumdb/tlog"
)

// maxProof is the most hashes the protocol lets a request's consistency
// proof have.
const maxProof = 63

// maxResponse bounds what is read of a witness's answer: a few signature
// lines, or a tree size.
const maxResponse = 64 << 10

// A Client submits checkpoints to one witness.
//
// It remembers the size of the tree the witness last cosigned for the log,
// which is where the next consistency proof starts. It starts from zero
// and learns the witness's size from its "409 Conflict" answer, as the
// protocol provides, so a new client, or one whose witness was also sent
// checkpoints by another server of the log, catches up in one more request.
//
// A Client is safe for concurrent use.
type Client struct {
	// URL is the witness's submission prefix: checkpoints are posted to
	// URL/add-checkpoint.
	URL string
	// HTTP makes the requests; http.DefaultClient when nil. Bound the time
	// of a request with its Timeout or with the context.
	HTTP *http.Client

	mu    sync.Mutex
	known int64 // the size the witness last cosigned, as far as we know
}

// String returns the witness's URL.
func (c *Client) String() string { return c.URL }

// AddCheckpoint submits signed, a signed checkpoint of a tree of size size,
// and returns the cosignature lines of the witness's answer. prove returns
// the consistency proof from the tree of size old that the witness last
// cosigned to this one; it is not called for old zero, whose proof is
// empty.
//
// When the witness answers that it cosigned a tree of another size,
// AddCheckpoint proves consistency from that size and submits once more.
func (c *Client) AddCheckpoint(ctx context.Context, size int64, signed []byte, prove func(old int64) (tlog.TreeProof, error)) ([]byte, error) {
	old := c.knownSize()
	for try := 0; ; try++ {
		if old > size {
			return nil, fmt.Errorf("witness %s: it cosigned a tree of size %d, larger than this checkpoint's %d", c.URL, old, size)
		}
		var proof tlog.TreeProof
		if old > 0 {
			var err error
			if proof, err = prove(old); err != nil {
				return nil, fmt.Errorf("witness %s: consistency proof from size %d to %d: %w", c.URL, old, size, err)
			}
			if len(proof) > maxProof {
				return nil, fmt.Errorf("witness %s: a consistency proof of %d hashes, over the protocol's %d", c.URL, len(proof), maxProof)
			}
		}
		sigs, err := c.post(ctx, requestBody(old, proof, signed))
		var conflict *conflictError
		switch {
		case err == nil:
			c.setKnown(size)
			return sigs, nil
		case errors.As(err, &conflict) && conflict.known != old && try == 0:
			// The witness cosigned a tree of another size: prove from it.
			c.setKnown(conflict.known)
			old = conflict.known
		case errors.As(err, &conflict) && conflict.known == old:
			// It cosigned a tree of the size it was told, but with another
			// root hash: the log, or the witness, is not append-only.
			return nil, fmt.Errorf("witness %s: it cosigned a tree of size %d that this checkpoint is not consistent with", c.URL, old)
		default:
			return nil, fmt.Errorf("witness %s: %w", c.URL, err)
		}
	}
}

func (c *Client) knownSize() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.known
}

func (c *Client) setKnown(n int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.known = n
}

// requestBody is the body of an add-checkpoint request: the old size line,
// the proof's hashes in base64, one a line, an empty line and the signed
// checkpoint.
func requestBody(old int64, proof tlog.TreeProof, signed []byte) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "old %d\n", old)
	for _, h := range proof {
		b.WriteString(h.String() + "\n")
	}
	b.WriteString("\n")
	b.Write(signed)
	return b.Bytes()
}

// conflictError is a "409 Conflict" answer: the witness cosigned a tree of
// size known for the log.
type conflictError struct{ known int64 }

func (e *conflictError) Error() string {
	return fmt.Sprintf("409 Conflict: the witness cosigned a tree of size %d", e.known)
}

func (c *Client) post(ctx context.Context, body []byte) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(c.URL, "/")+"/add-checkpoint", bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse+1))
	if err != nil {
		return nil, fmt.Errorf("%s: reading the answer: %w", resp.Status, err)
	}
	if len(b) > maxResponse {
		return nil, fmt.Errorf("%s: an answer over %d bytes", resp.Status, maxResponse)
	}
	switch resp.StatusCode {
	case http.StatusOK:
		if len(b) == 0 {
			return nil, errors.New("200 OK with no cosignature")
		}
		return b, nil
	case http.StatusConflict:
		// The body is the size of the latest tree the witness cosigned
		// (Content-Type text/x.tlog.size).
		s, ok := strings.CutSuffix(string(b), "\n")
		n, err := strconv.ParseInt(s, 10, 64)
		if !ok || err != nil || n < 0 || strconv.FormatInt(n, 10) != s {
			return nil, fmt.Errorf("%s with no tree size: %.100q", resp.Status, b)
		}
		return nil, &conflictError{known: n}
	}
	return nil, fmt.Errorf("%s: %s", resp.Status, firstLine(b))
}

// firstLine is the start of a witness's error text, for a log line.
func firstLine(b []byte) string {
	s, _, _ := strings.Cut(string(b), "\n")
	if len(s) > 200 {
		s = s[:200]
	}
	return strconv.Quote(s)
}
