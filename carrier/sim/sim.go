// Package sim is a fake messaging gateway and a fake carrier (SPEC §12.3),
// so that shortcode runs on one machine with nothing real behind it.
//
// As a gateway it speaks the Twilio wire format of SPEC §12.1: it accepts
// MTs on the Messages API and lists them newest first, posts signed status
// callbacks, and delivers MOs sent by simulated phones to the webhook with
// valid X-Twilio-Signature headers, retrying on 5xx and connection errors.
//
// As a carrier it speaks GSMA OneAPI Payment (SPEC §12.2): it answers
// number lookups, charges, refunds and status queries, keeps a ledger of
// what it applied (Sim.Ledger), writes settlement files (Sim.Settlement,
// with the charges Sim.WriteOff wrote off),
// and misbehaves on demand (Faults, Sim.Decline). A correlator used again
// gets its first answer again and is never charged twice; a referenceCode
// applied under another correlator is refused (SVC0002). Its number plan
// (SPEC §12.3), on the fictional 555-01xx numbers of each area code:
//
//	+1201555 01xx  prepaid line; a charge is declined POL1000
//	+1202555 01xx  business line; a charge is declined POL0001
//	+1203555 01xx  a charge is declined POL1001 (variable "monthly")
//	+1205555 01xx  a charge is declined POL0001 (premium billing blocked)
//	+1206555 01xx  the lookup answers 503
//	+1207555 01xx  the first charge of a reference is applied, then its
//	               connection is dropped after Config.Timeout
//	+1208555 01xx  the first two charge attempts of a reference answer 500
//	               (not applied), the third is applied
//	other numbers  postpaid lines whose charges succeed; the lookup's
//	               country is the number's region by libphonenumber
//	               ("CA" for +1416..., "GB" for +44...)
//
// Numbers libphonenumber rejects (+1555..., +1999...) are unknown
// subscribers: the lookup answers 404 and a charge SVC0004. A lookup names
// the carrier "SimMobile" for numbers ending in an even digit and
// "SimWireless" for odd ones, and the ledger files charges under it.
//
// Routes served by Sim.Handler:
//
//	POST /2010-04-01/Accounts/{sid}/Messages.json      send an MT (Twilio API)
//	GET  /2010-04-01/Accounts/{sid}/Messages.json      list MTs, ?To= filters
//	POST /phones/{e164}/messages                       a phone sends an MO
//	GET  /phones/{e164}/messages                       the MTs a phone received
//	POST /payment/v1/{tel}/transactions/amount         charge or refund (OneAPI)
//	GET  /payment/v1/{tel}/transactions/amount/{ref}   one transaction (OneAPI)
//	GET  /payment/v1/{tel}/transactions                a user's transactions (OneAPI)
//	GET  /lookup/v1/{tel}                              number lookup
//	GET  /sim/ledger                                   the carrier's ledger
//	GET  /sim/settlements/{carrier}.csv?from=&to=      a settlement file
//	GET  /sim/faults, POST /sim/faults                 the fault knobs
//	POST /sim/declines                                 force a decline code on a number
//
// A phone's POST (form To, Body) is answered with the webhook's status code
// when it is 2xx or 4xx, or 502 when the webhook never accepted the MO, and
// the JSON {"sid", "webhook_status", "attempts", "duplicate_status",
// "error"}. The MO is delivered twice, identical, as a gateway retry would,
// when the request has the header "X-Sim-Duplicate: 1" or the form field
// "SimDuplicate=1", or by chance (Faults.DuplicateRate).
//
// The simulated network delivers every MT at once: the API's answer says
// "queued", as Twilio's does, and the stored message is already
// "delivered"; its StatusCallback, if any, is posted in the background.
package sim

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"log/slog"
	mathrand "math/rand/v2"
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

// DefaultTimeout is how long a carrier request that times out is held
// before its connection is dropped.
const DefaultTimeout = 2 * time.Second

// The simulated carriers, named by Lookup's "carrier", and their default fee
// shares in basis points of the gross (used in settlement files).
const (
	SimMobile   = "SimMobile"   // numbers ending in an even digit
	SimWireless = "SimWireless" // numbers ending in an odd digit

	DefaultSimMobileFee   = 3000 // 30%
	DefaultSimWirelessFee = 3500 // 35%
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

	// CarrierUser and CarrierPassword are the HTTP Basic credentials the
	// OneAPI and lookup endpoints require. When both are empty (and
	// CarrierToken too) they require none.
	CarrierUser     string
	CarrierPassword string
	// CarrierToken, when set, is accepted as "Authorization: Bearer
	// <token>" on the OneAPI and lookup endpoints.
	CarrierToken string
	// BaseURL is the simulator's URL as OneAPI clients reach it, the base
	// of the resourceURLs it answers; default "http://" and the Host of
	// each request.
	BaseURL string
	// CarrierFees maps each simulated carrier to its fee in basis points
	// of the gross; carriers left out get their default
	// (DefaultSimMobileFee, DefaultSimWirelessFee). Values are clamped to
	// 0..10000.
	CarrierFees map[string]int
	// Timeout is how long a carrier request that times out (the +1207555
	// 01xx numbers, Faults.TimeoutRate) is held before its connection is
	// dropped without an answer; default DefaultTimeout.
	Timeout time.Duration
	// Faults are the initial fault knobs; see Sim.SetFaults.
	Faults Faults
	// Seed seeds the random source of the faults, so that a run can be
	// reproduced; 0 means a random seed.
	Seed uint64
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
	cfg    Config
	router *mux.Router

	mu       sync.Mutex
	messages []Message // in the order they were accepted
	// inflight counts background deliveries; idle is signalled (with mu)
	// when it drops to zero.
	inflight int
	idle     *sync.Cond

	// The fault knobs and their random source.
	fmu     sync.Mutex
	faults  Faults
	rng     *mathrand.Rand
	refused map[string]int // MT sends the Messages API refused, by kind

	// bmu guards the carrier's books.
	bmu   sync.Mutex
	books books

	// ctx ends background deliveries and held requests on Close.
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
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	fees := map[string]int{SimMobile: DefaultSimMobileFee, SimWireless: DefaultSimWirelessFee}
	for name, bps := range cfg.CarrierFees {
		fees[name] = min(max(bps, 0), 10000)
	}
	cfg.CarrierFees = fees
	seed := cfg.Seed
	if seed == 0 {
		var b [8]byte
		rand.Read(b[:]) // never fails (crypto/rand)
		seed = binary.LittleEndian.Uint64(b[:])
	}

	s := &Sim{
		cfg:    cfg,
		faults: cfg.Faults.clamped(),
		rng:    mathrand.New(mathrand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		books:  newBooks(),
	}
	s.idle = sync.NewCond(&s.mu)
	s.ctx, s.cancel = context.WithCancel(context.Background())

	r := mux.NewRouter()
	r.HandleFunc("/2010-04-01/Accounts/{sid}/Messages.json", s.serveCreateMessage).Methods(http.MethodPost)
	r.HandleFunc("/2010-04-01/Accounts/{sid}/Messages.json", s.serveListMessages).Methods(http.MethodGet)
	r.HandleFunc("/phones/{e164}/messages", s.servePhone).Methods(http.MethodPost)
	r.HandleFunc("/phones/{e164}/messages", s.serveInbox).Methods(http.MethodGet)
	s.registerCarrierRoutes(r)
	s.router = r
	return s
}

// Handler returns the simulator's HTTP API.
func (s *Sim) Handler() http.Handler { return s.router }

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
// starts no more; carrier requests being held for a timeout are dropped at
// once. The simulator's HTTP API keeps answering.
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
