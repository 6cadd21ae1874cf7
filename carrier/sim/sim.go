// Package sim is a fake messaging gateway and a fake carrier (SPEC §12.3),
// so that shortcode runs on one machine with nothing real behind it.
//
// As a gateway it speaks the Twilio wire format of SPEC §12.1: it accepts
// MTs on the Messages API and lists them newest first, posts signed status
// callbacks, and delivers MOs sent by simulated phones to the webhook with
// valid X-Twilio-Signature headers, retrying on 5xx and connection errors.
// As a carrier it approves every charge, idempotently (see Carrier).
//
// Routes served by Sim.Handler:
//
//	POST /2010-04-01/Accounts/{sid}/Messages.json   send an MT (Twilio API)
//	GET  /2010-04-01/Accounts/{sid}/Messages.json   list MTs, ?To= filters
//	POST /phones/{e164}/messages                    a phone sends an MO
//	GET  /sim/ledger                                the carrier's charges
//
// A phone's POST (form To, Body) is answered with the webhook's status code
// when it is 2xx or 4xx, or 502 when the webhook never accepted the MO, and
// the JSON {"sid", "webhook_status", "attempts", "duplicate_status",
// "error"}. The MO is delivered twice, identical, as a gateway retry would,
// when the request has the header "X-Sim-Duplicate: 1" or the form field
// "SimDuplicate=1".
//
// The simulated network delivers every MT at once: the API's answer says
// "queued", as Twilio's does, and the stored message is already
// "delivered"; its StatusCallback, if any, is posted in the background.
package sim

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"net/http"
	"regexp"
	"slices"
	"sync"
	"time"

	"github.com/gorilla/mux"
)

// DefaultAccountSID is the account sid of the embedded simulator.
const DefaultAccountSID = "AC00000000000000000000000000000000"

// Defaults of the delivery retry policy.
const (
	DefaultAttempts = 5
	DefaultBackoff  = 100 * time.Millisecond
)

// maxBodyBytes bounds the request bodies the simulator reads.
const maxBodyBytes = 64 << 10

// Config configures a Sim. The zero value of each field but AuthToken and
// WebhookURL has a usable default.
type Config struct {
	// AccountSID is the Twilio account; default DefaultAccountSID.
	AccountSID string
	// AuthToken is the account's auth token: the password of the
	// Messages API and the key of every signature the simulator makes.
	AuthToken string
	// WebhookURL is where MOs are delivered, e.g.
	// "http://127.0.0.1:8080/gateways/twilio/sms".
	WebhookURL string
	// SignURL is the URL MO signatures are computed over, when the webhook
	// is reached through an address other than its public URL; default
	// WebhookURL.
	SignURL string
	// HTTP makes the webhook and status callback requests; nil means a
	// client with a 10 second timeout that does not follow redirects.
	HTTP *http.Client
	// Now tells the time; nil means time.Now in UTC.
	Now func() time.Time
	// Log receives delivery failures; nil means slog.Default().
	Log *slog.Logger
	// Attempts is how many times an MO or a status callback is posted
	// before giving up; default DefaultAttempts.
	Attempts int
	// Backoff is the wait after the first failed attempt, doubled after
	// each further one; default DefaultBackoff.
	Backoff time.Duration
}

// Message is an MT the simulated gateway accepted.
type Message struct {
	SID            string // "SM" and 32 hex digits
	AccountSID     string
	To             string
	From           string
	Body           string
	Status         string // "queued" when accepted, then "delivered"
	StatusCallback string // empty when none was given
	Created        time.Time
	Updated        time.Time
}

// Sim is a simulated gateway and carrier. Its methods are safe for
// concurrent use.
type Sim struct {
	cfg     Config
	router  *mux.Router
	carrier *Carrier

	mu       sync.Mutex
	messages []Message // in the order they were accepted
	// inflight counts background deliveries; idle is signalled (with mu)
	// when it drops to zero.
	inflight int
	idle     *sync.Cond

	// ctx ends background deliveries on Close.
	ctx    context.Context
	cancel context.CancelFunc
}

// New returns a simulator configured by cfg, with defaults filled in.
func New(cfg Config) *Sim {
	if cfg.AccountSID == "" {
		cfg.AccountSID = DefaultAccountSID
	}
	if cfg.SignURL == "" {
		cfg.SignURL = cfg.WebhookURL
	}
	if cfg.HTTP == nil {
		cfg.HTTP = &http.Client{
			Timeout: 10 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error {
				return http.ErrUseLastResponse
			},
		}
	}
	if cfg.Now == nil {
		cfg.Now = func() time.Time { return time.Now().UTC() }
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.Attempts <= 0 {
		cfg.Attempts = DefaultAttempts
	}
	if cfg.Backoff <= 0 {
		cfg.Backoff = DefaultBackoff
	}
	s := &Sim{cfg: cfg, carrier: &Carrier{Now: cfg.Now}}
	s.idle = sync.NewCond(&s.mu)
	s.ctx, s.cancel = context.WithCancel(context.Background())

	r := mux.NewRouter()
	r.HandleFunc("/2010-04-01/Accounts/{sid}/Messages.json", s.serveCreateMessage).Methods(http.MethodPost)
	r.HandleFunc("/2010-04-01/Accounts/{sid}/Messages.json", s.serveListMessages).Methods(http.MethodGet)
	r.HandleFunc("/phones/{e164}/messages", s.servePhone).Methods(http.MethodPost)
	r.HandleFunc("/phones/{e164}/messages", s.serveInbox).Methods(http.MethodGet)
	r.HandleFunc("/sim/ledger", s.serveLedger).Methods(http.MethodGet)
	s.router = r
	return s
}

// Handler returns the simulator's HTTP API.
func (s *Sim) Handler() http.Handler { return s.router }

// Carrier returns the simulated carrier's billing side.
func (s *Sim) Carrier() *Carrier { return s.carrier }

// Wait waits until no status callback is in flight: each was delivered or
// given up.
func (s *Sim) Wait() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for s.inflight > 0 {
		s.idle.Wait()
	}
}

// Close abandons the status callbacks in flight, waits for them to end, and
// starts no more. The simulator's HTTP API keeps answering.
func (s *Sim) Close() error {
	s.cancel()
	s.Wait()
	return nil
}

// background runs f in a goroutine counted by Wait, unless the simulator
// is closed. The caller holds s.mu.
func (s *Sim) background(f func(ctx context.Context)) {
	if s.ctx.Err() != nil {
		return
	}
	s.inflight++
	go func() {
		defer func() {
			s.mu.Lock()
			s.inflight--
			if s.inflight == 0 {
				s.idle.Broadcast()
			}
			s.mu.Unlock()
		}()
		f(s.ctx)
	}()
}

// Messages returns the MTs sent to the number to, newest first; all MTs
// when to is empty.
func (s *Sim) Messages(to string) []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Message
	for i := len(s.messages) - 1; i >= 0; i-- {
		if to == "" || s.messages[i].To == to {
			out = append(out, s.messages[i])
		}
	}
	// Newest first by creation time, as Twilio lists them; among equal
	// times, the last accepted first.
	slices.SortStableFunc(out, func(a, b Message) int { return b.Created.Compare(a.Created) })
	return out
}

// newSID returns prefix followed by 32 random hex digits, the shape of a
// Twilio resource id.
func newSID(prefix string) string {
	var b [16]byte
	rand.Read(b[:]) // never fails (crypto/rand)
	return prefix + hex.EncodeToString(b[:])
}

// e164 is the shape of a phone number.
var e164 = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)

// writeJSON answers v as JSON with status code.
func writeJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	w.Write(append(b, '\n'))
}
