package httpserver

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/gorilla/mux"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/shortcode/shortcode/compliance/certlog"
	"github.com/shortcode/shortcode/donation"
	"github.com/shortcode/shortcode/donation/auditlog"
	"github.com/shortcode/shortcode/donation/auth"
	"github.com/shortcode/shortcode/donation/treasury"
)

// LogRecords reads the certification log and what an auditor needs beside
// it; storage.DB implements it.
type LogRecords interface {
	Checkpoint(ctx context.Context) ([]byte, error)
	ReadHashes(ctx context.Context, indexes []int64) ([]tlog.Hash, error)
	Entries(ctx context.Context, from, to int64) ([]auditlog.Entry, error)
	EntryOf(ctx context.Context, donationID string) (auditlog.Entry, error)
	// Transcript returns the texts a number sent to and got from a short
	// code between from and to, in order.
	Transcript(ctx context.Context, phone, shortCode string, from, to time.Time) ([]auditlog.TranscriptLine, error)
	Donation(ctx context.Context, id string) (donation.Donation, error)
	// Verification returns the evidence of a donation's correct PIN, or
	// an error wrapping donation.ErrNotFound (a PIN from before it was
	// kept).
	Verification(ctx context.Context, donationID string) (donation.PINVerification, error)
}

// Cache lifetimes of the tiled log (c2sp.org/tlog-tiles): a full tile never
// changes; a checkpoint or a partial tile does as the log grows.
const (
	immutable = "public, max-age=31536000, immutable"
	shortLive = "public, max-age=5"
)

// LogRoutes serve the certification log. Public, with no personal data, in
// the C2SP tiled form:
//
//	GET /log/checkpoint                       the latest signed checkpoint
//	GET /log/tile/<L>/<N>[.p/<W>]             hash tiles
//	GET /log/tile/entries/<N>[.p/<W>]         entry bundles (the records)
//
// For auditors (and admins), with the openings of the commitments:
//
//	GET /api/v1/audit/records?size=&from=&to= entries with openings and inclusion proofs, JSON lines
//	GET /api/v1/audit/donations/{id}          a donation's whole evidence
//	GET /api/v1/audit/donations/{id}/proof    its record's c2sp.org/tlog-proof file
//	GET /api/v1/audit/consistency?old=&new=   a consistency proof between two tree sizes
func (s *Server) LogRoutes(records LogRecords, verifier note.Verifier) {
	l := &logRoutes{records: records, verifier: verifier}
	s.Route(http.MethodGet, "/log/checkpoint", nil, l.checkpoint)
	s.Route(http.MethodGet, "/log/tile/{path:.+}", nil, l.tile)
	read := []auth.Role{auth.Auditor, auth.Admin}
	s.Route(http.MethodGet, "/api/v1/audit/records", read, l.export)
	s.Route(http.MethodGet, "/api/v1/audit/donations/{id}", read, l.evidence)
	s.Route(http.MethodGet, "/api/v1/audit/donations/{id}/proof", read, l.proof)
	s.Route(http.MethodGet, "/api/v1/audit/consistency", read, l.consistency)
}

type logRoutes struct {
	records  LogRecords
	verifier note.Verifier
}

// tree is the latest signed checkpoint, checked with the log's own key.
func (l *logRoutes) tree(ctx context.Context) ([]byte, certlog.Checkpoint, error) {
	signed, err := l.records.Checkpoint(ctx)
	if err != nil {
		return nil, certlog.Checkpoint{}, fmt.Errorf("checkpoint: %w", err)
	}
	c, err := certlog.OpenCheckpoint(signed, l.verifier)
	if err != nil {
		return nil, certlog.Checkpoint{}, fmt.Errorf("stored checkpoint does not verify: %w", err)
	}
	return signed, c, nil
}

func (l *logRoutes) hashes(ctx context.Context) tlog.HashReader {
	return tlog.HashReaderFunc(func(ix []int64) ([]tlog.Hash, error) { return l.records.ReadHashes(ctx, ix) })
}

func (l *logRoutes) checkpoint(w http.ResponseWriter, r *http.Request) error {
	signed, _, err := l.tree(r.Context())
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", shortLive)
	_, err = w.Write(signed)
	return err
}

func (l *logRoutes) tile(w http.ResponseWriter, r *http.Request) error {
	t, err := certlog.ParseTilePath("tile/" + mux.Vars(r)["path"])
	if err != nil {
		return fmt.Errorf("%v: %w", err, donation.ErrNotFound)
	}
	_, c, err := l.tree(r.Context())
	if err != nil {
		return err
	}
	if !certlog.InTree(t, c.N) {
		return fmt.Errorf("tile %s is not in the tree of size %d: %w", certlog.TilePath(t), c.N, donation.ErrNotFound)
	}
	var data []byte
	if t.L == -1 {
		data, err = certlog.ReadEntryBundle(t, func(start, end int64) ([][]byte, error) {
			es, err := l.records.Entries(r.Context(), start, end)
			if err != nil {
				return nil, err
			}
			out := make([][]byte, len(es))
			for i, e := range es {
				out[i] = e.Record
			}
			return out, nil
		})
	} else {
		data, err = certlog.ReadHashTile(t, l.hashes(r.Context()))
	}
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	if t.W == certlog.TileWidth {
		w.Header().Set("Cache-Control", immutable)
	} else {
		w.Header().Set("Cache-Control", shortLive)
	}
	_, err = w.Write(data)
	return err
}

// export writes the entries in [from, to) as JSON lines (certlog.Entry),
// each with its opening and its inclusion proof in the tree of size size
// (default: the latest checkpoint's). Fetch /log/checkpoint first and ask
// for size= its size, to get an export that verifies against it.
func (l *logRoutes) export(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	_, c, err := l.tree(ctx)
	if err != nil {
		return err
	}
	from, err := intParam(r, "from", 0)
	if err != nil {
		return err
	}
	size, err := intParam(r, "size", c.N)
	if err != nil {
		return err
	}
	to, err := intParam(r, "to", size)
	if err != nil {
		return err
	}
	if size > c.N || from < 0 || to > size || from > to {
		return fmt.Errorf("records [%d, %d) of a tree of size %d: the log has %d: %w", from, to, size, c.N, donation.ErrInvalid)
	}
	w.Header().Set("Content-Type", "application/jsonl")
	w.Header().Set("X-Checkpoint-Size", strconv.FormatInt(size, 10))
	w.Header().Set("Cache-Control", "no-store")
	hr := l.hashes(ctx)
	for start := from; start < to; start += 1000 {
		es, err := l.records.Entries(ctx, start, min(start+1000, to))
		if err != nil {
			return err
		}
		for _, e := range es {
			p, err := tlog.ProveRecord(size, e.Index, hr)
			if err != nil {
				return err
			}
			open := e.Opening
			line := certlog.Entry{Index: e.Index, Record: e.Record, Proof: p, Opening: &open}
			b, err := jsonLine(line)
			if err != nil {
				return err
			}
			if _, err := w.Write(b); err != nil {
				return err
			}
		}
	}
	return nil
}

// jsonLine is v as one line of JSON.
func jsonLine(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

func (l *logRoutes) proof(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	e, err := l.records.EntryOf(ctx, mux.Vars(r)["id"])
	if err != nil {
		return err
	}
	signed, c, err := l.tree(ctx)
	if err != nil {
		return err
	}
	if e.Index >= c.N {
		return fmt.Errorf("record %d is not in a signed checkpoint yet; try again in a second: %w", e.Index, donation.ErrUnavailable)
	}
	p, err := tlog.ProveRecord(c.N, e.Index, l.hashes(ctx))
	if err != nil {
		return err
	}
	b, err := certlog.Proof{Extra: e.Record, Index: e.Index, Path: p, Checkpoint: signed}.Marshal()
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, err = w.Write(b)
	return err
}

func (l *logRoutes) consistency(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	_, c, err := l.tree(ctx)
	if err != nil {
		return err
	}
	old, err := intParam(r, "old", 0)
	if err != nil {
		return err
	}
	n, err := intParam(r, "new", c.N)
	if err != nil {
		return err
	}
	if old < 1 || old > n || n > c.N {
		return fmt.Errorf("sizes %d and %d: want 1 <= old <= new <= %d: %w", old, n, c.N, donation.ErrInvalid)
	}
	p, err := tlog.ProveTree(n, old, l.hashes(ctx))
	if err != nil {
		return err
	}
	return WriteJSON(w, map[string]any{"old": old, "new": n, "proof": p})
}

// EvidenceOfDonation is what an auditor gets for one donation (SPEC §8).
type EvidenceOfDonation struct {
	Donation   string                    `json:"donation"`
	Phone      string                    `json:"phone"`
	Amount     string                    `json:"amount"` // dollars, "10.00", as in the other routes
	Status     string                    `json:"status"`
	Index      int64                     `json:"index"`
	Record     string                    `json:"record"` // the canonical bytes, as text
	Opening    certlog.Opening           `json:"opening"`
	PIN        *PINVerification          `json:"pin_verification"`
	Charge     *ChargeEvidence           `json:"charge"`
	Transcript []auditlog.TranscriptLine `json:"transcript"`
	Checkpoint string                    `json:"checkpoint"`
	Proof      tlog.RecordProof          `json:"proof"`
}

// PINVerification says how the PIN was given: by text (the MO that
// carried it) or on the donation's page (the browser's IP address and user
// agent). Channel is "unknown" for a PIN from before its evidence was kept.
type PINVerification struct {
	At        time.Time `json:"at"`
	Channel   string    `json:"channel"` // "sms" or "web"
	MessageID string    `json:"message_id,omitempty"`
	IP        string    `json:"ip,omitempty"`
	UserAgent string    `json:"user_agent,omitempty"`
}

// ChargeEvidence is the charge and its outcome.
type ChargeEvidence struct {
	PostedAt   time.Time  `json:"posted_at"`
	Correlator string     `json:"correlator"`
	Carrier    string     `json:"carrier"`
	Outcome    string     `json:"outcome"`
	Reference  string     `json:"reference,omitempty"`
	Decline    string     `json:"decline,omitempty"`
	FinishedAt *time.Time `json:"finished_at"`
}

func (l *logRoutes) evidence(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	id := mux.Vars(r)["id"]
	d, err := l.records.Donation(ctx, id)
	if err != nil {
		return err
	}
	e, err := l.records.EntryOf(ctx, id)
	if err != nil {
		return err
	}
	signed, c, err := l.tree(ctx)
	if err != nil {
		return err
	}
	out := EvidenceOfDonation{Donation: d.ID, Phone: d.Phone, Amount: treasury.Decimal(d.Amount), Status: string(d.Status),
		Index: e.Index, Record: string(e.Record), Opening: e.Opening, Checkpoint: string(signed)}
	if e.Index < c.N {
		if out.Proof, err = tlog.ProveRecord(c.N, e.Index, l.hashes(ctx)); err != nil {
			return err
		}
	}
	if !d.ChargePostedAt.IsZero() {
		out.PIN = &PINVerification{At: d.ChargePostedAt, Channel: "unknown"}
		switch v, err := l.records.Verification(ctx, d.ID); {
		case err == nil:
			out.PIN = &PINVerification{At: v.At, Channel: v.Channel, MessageID: v.MessageID, IP: v.IP, UserAgent: v.UserAgent}
		case donation.KindOf(err) != donation.NotFound:
			return err
		}
		ch := &ChargeEvidence{PostedAt: d.ChargePostedAt, Correlator: d.Correlator, Carrier: d.Carrier,
			Outcome: string(d.Status), Reference: d.ServerRef, Decline: d.DeclineReason}
		if !d.FinishedAt.IsZero() {
			at := d.FinishedAt
			ch.FinishedAt = &at
		}
		out.Charge = ch
	}
	end := d.FinishedAt
	if end.IsZero() {
		end = time.Now()
	}
	if out.Transcript, err = l.records.Transcript(ctx, d.Phone, d.ShortCode, d.CreatedAt.Add(-time.Second), end.Add(time.Minute)); err != nil {
		return err
	}
	return WriteJSON(w, out)
}

func intParam(r *http.Request, name string, def int64) (int64, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%s %q: want a whole number: %w", name, v, donation.ErrInvalid)
	}
	return n, nil
}
