package loadtest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/shortcode/shortcode/carrier/sim"
	"github.com/shortcode/shortcode/compliance"
	"github.com/shortcode/shortcode/donation/httpserver"
	"github.com/shortcode/shortcode/donation/program"
	"github.com/shortcode/shortcode/donation/treasury"
)

// API is the operator API (docs/operators.md) with an auditor's token: the
// only role that reads both the donations and their evidence. The
// shortcode command's client implements it; its errors wrap ErrNotFound
// for a 404 answer.
type API interface {
	Get(ctx context.Context, path string, query url.Values, out any) error
	Download(ctx context.Context, path string, query url.Values, w io.Writer) (int64, error)
}

// ReadProgram reads the program id through the API.
func ReadProgram(ctx context.Context, api API, id string) (compliance.Program, error) {
	var raw json.RawMessage
	if err := api.Get(ctx, "/api/v1/programs/"+url.PathEscape(id), nil, &raw); err != nil {
		return compliance.Program{}, fmt.Errorf("program %s: %w", id, err)
	}
	p, err := program.Decode(bytes.NewReader(raw))
	if err != nil {
		return compliance.Program{}, fmt.Errorf("program %s: %w", id, err)
	}
	return p, nil
}

// ErrNotFound is wrapped by the API's errors for a 404 answer: a
// donation's evidence is found once its certification is in the log.
var ErrNotFound = errors.New("not found")

// Checker gathers what Check needs after a run and checks it.
type Checker struct {
	API    API
	SimURL string       // the carrier simulator, whose ledger is read
	HTTP   *http.Client // for the simulator
	// Verifier checks the log's checkpoints; nil reads them unchecked.
	Verifier note.Verifier
	// Settle is how long the check is tried again while it fails: a
	// certification is in a signed checkpoint only after the log's merge
	// delay, and a charge's outcome is recorded after the carrier applied
	// it.
	Settle time.Duration
}

// Check checks the invariants over the run's conversations with p. An
// error is a check that could not be made.
func (c *Checker) Check(ctx context.Context, p compliance.Program, convs []Conversation) (Report, error) {
	deadline := time.Now().Add(c.Settle)
	for {
		in, err := c.collect(ctx, p, convs)
		if err != nil {
			return Report{}, err
		}
		rep := Check(in)
		if rep.Hold || !time.Now().Before(deadline) {
			return rep, nil
		}
		t := time.NewTimer(250 * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return rep, nil
		case <-t.C:
		}
	}
}

// evidenceWorkers bounds the evidence requests in flight.
const evidenceWorkers = 8

// collect reads the run's completed donations, their evidence and the
// carrier's ledger.
//
// The operator API shows an auditor each donation's number masked
// (+1******4321), and has no paging past 10,000 donations, so the
// donations are read from the contributions report, which streams them
// all, for the run's days: those received since the run began whose masked
// number is one of the run's (the run's numbers share all but their last
// four digits, so a mask names one of them) are the candidates; each one's
// evidence names its number in full, which keeps the run's own.
func (c *Checker) collect(ctx context.Context, p compliance.Program, convs []Conversation) (Input, error) {
	in := Input{Program: p, Conversations: convs, Verifier: c.Verifier}
	if len(convs) == 0 {
		return in, nil
	}
	masks := map[string]string{}
	began := convs[0].Started
	for _, cv := range convs {
		masks[compliance.MaskPhone(cv.Phone)] = cv.Phone
		if cv.Started.Before(began) {
			began = cv.Started
		}
	}
	loc := p.Committee.Location()
	q := url.Values{"committee": {p.Committee.ID}, "format": {"json"},
		"from": {began.In(loc).Format(time.DateOnly)}, "to": {time.Now().In(loc).Format(time.DateOnly)}}
	var buf bytes.Buffer
	if _, err := c.API.Download(ctx, "/api/v1/reports/contributions", q, &buf); err != nil {
		return in, fmt.Errorf("the contributions report: %w", err)
	}
	var rows []map[string]string
	if err := json.Unmarshal(buf.Bytes(), &rows); err != nil {
		return in, fmt.Errorf("the contributions report: %w", err)
	}
	var candidates []Donation
	for _, r := range rows {
		phone, ours := masks[r["phone"]]
		if !ours || r["status"] != "completed" {
			continue
		}
		at, err := time.Parse(time.RFC3339, r["received_at"])
		if err != nil {
			return in, fmt.Errorf("the contributions report: donation %s: received_at %q: %w", r["id"], r["received_at"], err)
		}
		if at.Before(began.Add(-time.Second)) {
			continue
		}
		cents, err := treasury.ParseDollars(r["amount"])
		if err != nil {
			return in, fmt.Errorf("the contributions report: donation %s: amount %q: %w", r["id"], r["amount"], err)
		}
		candidates = append(candidates, Donation{ID: r["id"], Phone: phone, Amount: cents, ReceivedAt: at})
	}

	ds, err := c.evidence(ctx, candidates)
	if err != nil {
		return in, err
	}
	ours := map[string]bool{}
	for _, cv := range convs {
		ours[cv.Phone] = true
	}
	for _, d := range ds {
		if ours[d.Phone] {
			in.Donations = append(in.Donations, d)
		}
	}
	if in.Ledger, err = c.ledger(ctx); err != nil {
		return in, err
	}
	return in, nil
}

// evidence reads each donation's evidence, which names its number in full;
// a donation without (a 404) keeps the number its mask names.
func (c *Checker) evidence(ctx context.Context, ds []Donation) ([]Donation, error) {
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
		next  = make(chan int)
	)
	for range min(evidenceWorkers, len(ds)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				var ev httpserver.EvidenceOfDonation
				err := c.API.Get(ctx, "/api/v1/audit/donations/"+url.PathEscape(ds[i].ID), nil, &ev)
				mu.Lock()
				if err != nil && !errors.Is(err, ErrNotFound) && first == nil {
					first = fmt.Errorf("the evidence of donation %s: %w", ds[i].ID, err)
				}
				mu.Unlock()
				if err == nil {
					ds[i].Phone, ds[i].Evidence = ev.Phone, &ev
				}
			}
		}()
	}
	for i := range ds {
		next <- i
	}
	close(next)
	wg.Wait()
	return ds, first
}

// ledger reads the carrier simulator's ledger.
func (c *Checker) ledger(ctx context.Context) ([]sim.Charge, error) {
	u := strings.TrimSuffix(c.SimURL, "/") + "/sim/ledger"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return nil, fmt.Errorf("the carrier simulator's ledger: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("the carrier simulator's ledger: %s %s", u, resp.Status)
	}
	var l struct {
		Charges []sim.Charge `json:"charges"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&l); err != nil {
		return nil, fmt.Errorf("the carrier simulator's ledger: %w", err)
	}
	return l.Charges, nil
}
