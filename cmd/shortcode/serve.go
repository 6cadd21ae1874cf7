package main

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/shortcode/shortcode/donation/httpserver"

	"golang.org/x/mod/sumdb/note"

	"github.com/shortcode/shortcode/carrier"
	"github.com/shortcode/shortcode/carrier/sim"
	"github.com/shortcode/shortcode/carrier/twilio"
	"github.com/shortcode/shortcode/compliance"
	"github.com/shortcode/shortcode/compliance/certlog"
	"github.com/shortcode/shortcode/compliance/certlog/witness"
	"github.com/shortcode/shortcode/donation"
	"github.com/shortcode/shortcode/donation/auditlog"
	"github.com/shortcode/shortcode/donation/metrics"
	"github.com/shortcode/shortcode/donation/program"
	"github.com/shortcode/shortcode/donation/treasury"
	"github.com/shortcode/shortcode/storage"
)

// defaultAccountSID is the embedded simulator's account (SPEC §12.3).
const defaultAccountSID = "AC00000000000000000000000000000000"

// Main is the serve command: configuration, then the running program.
// Tests build it directly with Addr and SimAddr "127.0.0.1:0".
type Main struct {
	DB               string
	Addr             string
	PublicURL        string
	SimAddr          string // "" or "off": no embedded simulator
	TwilioAuthToken  string
	TwilioAccountSID string
	TwilioAPIURL     string
	// Carriers is a JSON carrier configuration file (see docs/carriers.md);
	// empty means the embedded simulator's carriers.
	Carriers string
	// ChargeBackoff is the first wait after an unknown charge outcome;
	// ChargeLease how long an attempt is left to the server making it.
	ChargeBackoff, ChargeLease time.Duration
	// SendLease is how long an MT being sent is left to the server sending
	// it; SendTimeout bounds one call to the gateway.
	SendLease, SendTimeout time.Duration
	// Poll is how often the workers look for work nobody woke them for;
	// SimTimeout is how long the embedded simulator holds a request it
	// times out. Zero means the defaults; tests shorten them.
	Poll, SimTimeout time.Duration
	// RateLimit is how many MOs a number may send a minute (SPEC §11).
	RateLimit int
	// PINKey is the PIN hashing key, hex; empty means one kept in the
	// database (made on first use, shared by its servers).
	PINKey string
	// LogKey is the certification log's signer key (note format); empty
	// means, on SQLite, one kept beside the database (the demo), and is
	// refused on PostgreSQL. MergeDelay is the longest a certification
	// waits to be in a signed checkpoint.
	LogKey     string
	MergeDelay time.Duration
	// Witnesses are the submission URLs of the witnesses each new
	// checkpoint is sent to (c2sp.org/tlog-witness); WitnessKeys their
	// cosigner keys, without which what they return is dropped.
	// WitnessTimeout bounds one witness's answer (default 5 s).
	Witnesses      []string
	WitnessKeys    []string
	WitnessTimeout time.Duration
	// Limits bound the HTTP clients of the service and of the embedded
	// simulator; zero fields mean the defaults.
	Limits httpserver.Limits
	// Profile serves the Go profiles under /debug/pprof/ to admins.
	Profile bool
	// Senders is how many MTs are sent at once (32 when zero).
	Senders int
	Log     *slog.Logger

	// Set once Start returns.
	URL     string // where the service listens, e.g. http://127.0.0.1:8080
	SimURL  string // where the embedded simulator listens, if any
	Sim     *sim.Sim
	Store   *storage.DB
	Metrics *metrics.Metrics   // served at GET /metrics
	HTTP    *httpserver.Server // the routes served at URL, for tests that walk them

	srv, simSrv *http.Server
	cancel      context.CancelFunc
	wg          sync.WaitGroup
}

// NewMain returns a Main with the defaults of `shortcode serve`.
func NewMain() *Main {
	return &Main{
		DB: "shortcode.db", Addr: "127.0.0.1:8080", SimAddr: "127.0.0.1:8081",
		TwilioAccountSID: defaultAccountSID,
		Log:              slog.New(slog.NewTextHandler(os.Stderr, nil)),
	}
}

// serveCommand is `shortcode serve`.
type serveCommand struct {
	DB               string        `default:"shortcode.db" placeholder:"DSN" help:"Database: a SQLite file path, or a postgres:// URL; created if missing and migrated at start."`
	Addr             string        `default:"127.0.0.1:8080" placeholder:"HOST:PORT" help:"HTTP listen address."`
	PublicURL        string        `name:"public-url" placeholder:"URL" help:"URL the gateway calls us at; webhook signatures are computed over it (default http://ADDR)."`
	SimAddr          string        `default:"127.0.0.1:8081" placeholder:"HOST:PORT" help:"Listen address of the embedded simulator; off for none."`
	TwilioAuthToken  string        `name:"twilio-auth-token" help:"Webhook signing token and API password (random per start when unset)."`
	TwilioAccountSID string        `name:"twilio-account-sid" default:"${sim_account_sid}" help:"Twilio account sid."`
	TwilioAPIURL     string        `name:"twilio-api-url" placeholder:"URL" help:"Twilio API base URL (default: the embedded simulator)."`
	Carriers         string        `placeholder:"FILE" help:"Carrier configuration file, JSON, docs/carriers.md (default: the embedded simulator's carriers)."`
	PINKey           string        `name:"pin-key" placeholder:"HEX" help:"PIN hashing key, at least 32 hex digits, the same on every server (default: one kept in the database)."`
	LogKey           string        `name:"log-key" placeholder:"KEY" help:"The certification log's signer key, from shortcode keys generate (PRIVATE+KEY+...), the same on every server; required on PostgreSQL. On SQLite without it, one is made and kept in DB.logkey beside the database."`
	MergeDelay       time.Duration `name:"merge-delay" default:"1s" help:"Longest wait before a certification is in a signed checkpoint of the log."`
	Witness          []string      `placeholder:"URL" help:"A witness to send each new checkpoint of the log to (c2sp.org/tlog-witness), by its submission URL; repeat the flag, or separate with commas, for several. Needs --witness-key."`
	WitnessKey       []string      `name:"witness-key" placeholder:"VKEY" help:"A witness's cosigner key (c2sp.org/tlog-cosignature, NAME+HASH+KEY as litewitness prints it); cosignatures by other keys are dropped. Repeat, or separate with commas, for several."`
	WitnessTimeout   time.Duration `name:"witness-timeout" default:"5s" help:"Longest wait for one witness's answer; a witness that fails is asked again with the next checkpoint."`
	RateLimit        int           `default:"20" help:"MOs a phone number may send in a minute; more are recorded, not answered (STOP always works)."`
	ChargeBackoff    time.Duration `default:"1s" help:"First wait before asking again about a charge whose outcome is unknown."`
	ChargeLease      time.Duration `default:"30s" help:"How long a charge attempt is left to the server making it before another server (or a restart) may retry it."`
	SendLease        time.Duration `default:"30s" help:"How long an MT being sent is left to the server sending it before another server (or a restart) looks for it at the gateway and sends it if it is not there."`
	SendTimeout      time.Duration `default:"10s" help:"Longest wait for the gateway's answer to one MT."`
	Senders          int           `default:"32" help:"How many MTs are handed to the gateway at once; a number's MTs still go one at a time, in order."`
	Pprof            bool          `help:"Serve the Go runtime's profiles under /debug/pprof/ to admin tokens (docs/performance.md)."`
	limitFlags       `embed:""`
	logFlags         `embed:""`
}

// Validate checks the values kong cannot.
func (c *serveCommand) Validate() error {
	if _, err := c.limits(); err != nil {
		return err
	}
	switch {
	case c.RateLimit <= 0:
		return fmt.Errorf("--rate-limit %d: want a positive number", c.RateLimit)
	case c.ChargeBackoff <= 0:
		return fmt.Errorf("--charge-backoff %v: want a positive duration", c.ChargeBackoff)
	case c.ChargeLease <= 0:
		return fmt.Errorf("--charge-lease %v: want a positive duration", c.ChargeLease)
	case c.SendLease < time.Second:
		return fmt.Errorf("--send-lease %v: want a duration of at least 1s", c.SendLease)
	case c.MergeDelay < 10*time.Millisecond:
		return fmt.Errorf("--merge-delay %v: want at least 10ms", c.MergeDelay)
	case c.Senders <= 0:
		return fmt.Errorf("--senders %d: want a positive number", c.Senders)
	case c.SendTimeout <= 0:
		return fmt.Errorf("--send-timeout %v: want a positive duration", c.SendTimeout)
	case c.WitnessTimeout <= 0:
		return fmt.Errorf("--witness-timeout %v: want a positive duration", c.WitnessTimeout)
	}
	_, _, err := witnesses(c.Witness, c.WitnessKey, c.WitnessTimeout)
	return err
}

// main returns the Main the flags describe, logging to w.
func (c *serveCommand) main(w io.Writer) *Main {
	limits, _ := c.limits() // checked by Validate
	return &Main{
		DB: c.DB, Addr: c.Addr, PublicURL: c.PublicURL, SimAddr: c.SimAddr,
		TwilioAuthToken: c.TwilioAuthToken, TwilioAccountSID: c.TwilioAccountSID, TwilioAPIURL: c.TwilioAPIURL,
		Carriers: c.Carriers, PINKey: c.PINKey, LogKey: c.LogKey, MergeDelay: c.MergeDelay, RateLimit: c.RateLimit,
		Witnesses: c.Witness, WitnessKeys: c.WitnessKey, WitnessTimeout: c.WitnessTimeout,
		ChargeBackoff: c.ChargeBackoff, ChargeLease: c.ChargeLease, SendLease: c.SendLease, SendTimeout: c.SendTimeout,
		Limits: limits, Profile: c.Pprof, Senders: c.Senders,
		Log: c.logger(w),
	}
}

// Run serves until ctx is done.
func (c *serveCommand) Run(ctx context.Context, s *stdio) error {
	return c.main(s.err).Serve(ctx)
}

// Serve starts the program and runs it until ctx is done.
func (m *Main) Serve(ctx context.Context) error {
	if err := m.Start(ctx); err != nil {
		return err
	}
	<-ctx.Done()
	m.Log.Info("shutting down")
	return m.Close()
}

// Start opens and migrates the store, starts the simulator, the HTTP server
// and the workers, and returns once they listen.
func (m *Main) Start(ctx context.Context) error {
	if m.Log == nil {
		m.Log = slog.New(slog.DiscardHandler)
	}
	if m.TwilioAuthToken == "" {
		b := make([]byte, 16)
		rand.Read(b)
		m.TwilioAuthToken = hex.EncodeToString(b)
	}
	ln, err := net.Listen("tcp", m.Addr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", m.Addr, err)
	}
	m.URL = "http://" + ln.Addr().String()
	if m.PublicURL == "" {
		m.PublicURL = m.URL
	}
	m.PublicURL = strings.TrimSuffix(m.PublicURL, "/")

	db, err := storage.Open(ctx, m.DB)
	if err != nil {
		ln.Close()
		return err
	}
	m.Store = db
	if err := db.Migrate(ctx); err != nil {
		m.closeAll(ln)
		return err
	}
	if err := m.ensureDemo(ctx); err != nil {
		m.closeAll(ln)
		return err
	}

	apiURL := m.TwilioAPIURL
	if m.SimAddr != "" && m.SimAddr != "off" {
		sln, err := net.Listen("tcp", m.SimAddr)
		if err != nil {
			m.closeAll(ln)
			return fmt.Errorf("listen %s (simulator): %w", m.SimAddr, err)
		}
		m.SimURL = "http://" + sln.Addr().String()
		m.Sim = sim.New(sim.Config{
			AccountSID: m.TwilioAccountSID,
			AuthToken:  m.TwilioAuthToken,
			WebhookURL: m.URL + twilio.SMSPath,
			SignURL:    m.PublicURL + twilio.SMSPath,
			Timeout:    m.SimTimeout,
			Log:        m.Log,
		})
		// A phone's MO is answered once the webhook took it, after retries.
		simLimits := m.Limits.OrDefaults()
		simLimits.Write = max(simLimits.Write, simWriteTimeout)
		m.simSrv, sln = httpserver.NewHTTPServer(m.Sim.Handler(), sln, simLimits)
		m.goServe(m.simSrv, sln)
		if apiURL == "" {
			apiURL = m.SimURL
		}
		m.Log.Info("simulator listening", "url", m.SimURL, "account_sid", m.TwilioAccountSID)
	}
	router, err := m.router()
	if err != nil {
		m.closeAll(ln)
		return err
	}
	if apiURL == "" {
		m.closeAll(ln)
		return errors.New("no Twilio API URL: set --twilio-api-url or run the embedded simulator")
	}

	pinKey, err := m.pinKey(ctx, db)
	if err != nil {
		m.closeAll(ln)
		return err
	}
	svc := &donation.Service{
		Store: db, Outbox: db, Looker: router, Carriers: router, Log: m.Log,
		PINKey:        pinKey,
		Clock:         donation.SystemClock{},
		ChargeBackoff: m.ChargeBackoff,
		ChargeLease:   m.ChargeLease,
		SendLease:     m.SendLease,
		SendTimeout:   m.SendTimeout,
		RateLimit:     m.RateLimit,
		Senders:       m.Senders,
		Sender: &twilio.Client{
			BaseURL: apiURL, AccountSID: m.TwilioAccountSID, AuthToken: m.TwilioAuthToken,
			StatusCallback: m.PublicURL + twilio.StatusPath,
			HTTP:           outbound(15*time.Second, cmp.Or(m.Senders, 32)),
		},
		Poll: cmp.Or(m.Poll, 500*time.Millisecond),
	}
	m.Metrics = metrics.New(db, donation.SystemClock{}, m.Log)
	svc.Observer = m.Metrics
	svc.Start()
	hs := httpserver.New(m.Log, db, db.Ready, version())
	hs.Requests = m.Metrics
	hs.Mount(m.Metrics)
	if m.Profile {
		hs.Mount(httpserver.Profiler{})
	}
	hs.Mount(&twilio.Webhook{AuthToken: m.TwilioAuthToken, AccountSID: m.TwilioAccountSID, PublicURL: m.PublicURL,
		MOs: svc, Statuses: m.Metrics.Deliveries(db), Log: m.Log})
	hs.TokenRoutes(db, func() time.Time { return time.Now().UTC() }, nil)
	hs.ProgramRoutes(&program.Service{Store: db, Clock: donation.SystemClock{}})
	refunds := &treasury.Service{Store: db.Treasury(), Carriers: router, Clock: donation.SystemClock{}, Log: m.Log}
	hs.TreasuryRoutes(refunds, db, func() time.Time { return time.Now().UTC() })
	hs.ActionRoutes(db)
	hs.DonorRoutes(svc, httpserver.PageRates{})
	hs.ReportRoutes(db, func() time.Time { return time.Now().UTC() })
	certs, verifier, err := m.certLog(db)
	if err != nil {
		m.closeAll(ln)
		return err
	}
	certs.Observer = m.Metrics
	cosigner, err := m.cosigner(db, verifier)
	if err != nil {
		m.closeAll(ln)
		return err
	}
	hs.LogRoutes(db, verifier)
	m.HTTP = hs
	r := hs.Handler()
	m.srv, ln = httpserver.NewHTTPServer(r, ln, m.Limits)
	m.goServe(m.srv, ln)

	wctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	m.cancel = cancel
	m.wg.Add(3)
	go func() {
		defer m.wg.Done()
		svc.Run(wctx)
	}()
	go func() {
		defer m.wg.Done()
		certs.Run(wctx, m.MergeDelay, nil)
	}()
	if cosigner != nil {
		m.wg.Add(1)
		go func() {
			defer m.wg.Done()
			cosigner.Run(wctx, cmp.Or(m.MergeDelay, time.Second)/2)
		}()
	}
	go func() {
		defer m.wg.Done()
		every(wctx, 5*time.Second, func() {
			if _, err := refunds.RefundPending(wctx); err != nil && wctx.Err() == nil {
				m.Log.Error("refunds", "err", err)
			}
		})
	}()
	m.Log.Info("shortcode listening", "url", m.URL, "public_url", m.PublicURL, "db", redact(m.DB))
	return nil
}

// certLog returns the certification log's sequencer and the verifier of
// its checkpoints. Without --log-key, a SQLite database (the demo) gets a
// key made once and kept in a file beside it; a PostgreSQL one, shared by
// servers, must be given one.
func (m *Main) certLog(db *storage.DB) (*auditlog.Log, note.Verifier, error) {
	skey := m.LogKey
	if skey == "" {
		if db.Driver() != storage.SQLite {
			return nil, nil, errors.New("serve: --log-key is required on PostgreSQL: make one with shortcode keys generate")
		}
		var err error
		if skey, err = demoLogKey(m.DB+".logkey", m.PublicURL); err != nil {
			return nil, nil, fmt.Errorf("serve: certification log key: %w", err)
		}
	}
	signer, err := note.NewSigner(strings.TrimSpace(skey))
	if err != nil {
		return nil, nil, fmt.Errorf("serve: --log-key: %w", err)
	}
	vkey, err := certlog.VerifierKey(strings.TrimSpace(skey))
	if err != nil {
		return nil, nil, fmt.Errorf("serve: --log-key: %w", err)
	}
	verifier, err := note.NewVerifier(vkey)
	if err != nil {
		return nil, nil, err
	}
	m.Log.Info("certification log", "origin", signer.Name(), "verifier_key", vkey, "merge_delay", m.MergeDelay)
	return &auditlog.Log{Store: db, Signer: signer, Clock: donation.SystemClock{}, Log: m.Log}, verifier, nil
}

// cosigner returns what sends the log's checkpoints to the configured
// witnesses, or nil when there are none.
func (m *Main) cosigner(db *storage.DB, verifier note.Verifier) (*auditlog.Cosigner, error) {
	ws, keys, err := witnesses(m.Witnesses, m.WitnessKeys, m.WitnessTimeout)
	if err != nil {
		return nil, fmt.Errorf("serve: %w", err)
	}
	if len(ws) == 0 {
		return nil, nil
	}
	m.Log.Info("certification log witnesses", "witnesses", m.Witnesses, "keys", m.WitnessKeys)
	return &auditlog.Cosigner{Store: db, Verifier: verifier, Witnesses: ws, Keys: note.VerifierList(keys...),
		Clock: donation.SystemClock{}, Log: m.Log, Timeout: m.WitnessTimeout}, nil
}

// witnesses returns the clients of the witnesses at urls and the verifiers
// of their keys, each request bounded by timeout (5 s when zero).
func witnesses(urls, vkeys []string, timeout time.Duration) ([]auditlog.Witness, []note.Verifier, error) {
	switch {
	case len(urls) > 0 && len(vkeys) == 0:
		return nil, nil, errors.New("--witness needs the witnesses' keys, --witness-key: cosignatures by unknown keys are dropped")
	case len(urls) == 0 && len(vkeys) > 0:
		return nil, nil, errors.New("--witness-key without --witness")
	}
	hc := &http.Client{Timeout: cmp.Or(timeout, 5*time.Second)}
	var ws []auditlog.Witness
	for _, raw := range urls {
		u, err := url.Parse(raw)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
			return nil, nil, fmt.Errorf("--witness %q: want an http:// or https:// URL, the witness's submission prefix", raw)
		}
		ws = append(ws, &witness.Client{URL: raw, HTTP: hc})
	}
	var keys []note.Verifier
	for _, k := range vkeys {
		v, err := certlog.NewCosignatureVerifier(k)
		if err != nil {
			return nil, nil, fmt.Errorf("--witness-key %q: %w", k, err)
		}
		keys = append(keys, v)
	}
	return ws, keys, nil
}

// demoLogKey reads the signer key kept in file, making it first if there
// is none, named after the public URL's host.
func demoLogKey(file, publicURL string) (string, error) {
	if b, err := os.ReadFile(file); err == nil {
		return string(b), nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return "", err
	}
	host := "localhost"
	if u, err := url.Parse(publicURL); err == nil && u.Hostname() != "" {
		host = u.Hostname()
	}
	skey, _, err := note.GenerateKey(rand.Reader, host+"/shortcode/log")
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(file, []byte(skey+"\n"), 0o600); err != nil {
		return "", err
	}
	return skey, nil
}

// pinKey is the configured PIN key, else the database's own.
func (m *Main) pinKey(ctx context.Context, db *storage.DB) ([]byte, error) {
	if m.PINKey == "" {
		return db.Secret(ctx, "pin_key", 32)
	}
	k, err := hex.DecodeString(m.PINKey)
	if err != nil || len(k) < donation.MinPINKey {
		return nil, fmt.Errorf("serve: --pin-key: want at least %d hex digits", 2*donation.MinPINKey)
	}
	return k, nil
}

// router builds the carrier routing: the configured file, else the
// embedded simulator's carriers.
func (m *Main) router() (*carrier.Router, error) {
	var cfg carrier.Config
	switch {
	case m.Carriers != "":
		c, err := carrier.LoadConfig(m.Carriers)
		if err != nil {
			return nil, err
		}
		cfg = c
	case m.SimURL != "":
		cfg = carrier.SimConfig(m.SimURL)
	default:
		return nil, errors.New("no carriers: set --carriers or run the embedded simulator (--sim-addr)")
	}
	// Lookups come from every MO with a keyword at once, besides the
	// charge workers.
	return carrier.NewRouter(cfg, outbound(15*time.Second, 64))
}

// outbound is a client for calls to the gateway or the carriers that keeps
// up to conns idle connections to each host: Go's default keeps 2, so
// under load nearly every call would dial anew and leave a socket in
// TIME_WAIT.
func outbound(timeout time.Duration, conns int) *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = conns
	t.MaxIdleConns = max(t.MaxIdleConns, 4*conns)
	return &http.Client{Timeout: timeout, Transport: t}
}

// every runs f now and then at each tick until ctx is done.
func every(ctx context.Context, d time.Duration, f func()) {
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		f()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (m *Main) goServe(srv *http.Server, ln net.Listener) {
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			m.Log.Error("http server", "err", err)
		}
	}()
}

// ensureDemo installs the demo program of SPEC §3 on a database with no
// programs, so that serve works at once, and on every start points the
// demo program's links at this server's public URL.
func (m *Main) ensureDemo(ctx context.Context) error {
	programs := &program.Service{Store: m.Store, Clock: donation.SystemClock{}}
	installed, err := programs.InstallDemo(ctx, m.PublicURL, "shortcode serve")
	if err != nil {
		return err
	}
	if installed {
		p := compliance.DemoProgram(m.PublicURL)
		m.Log.Info("installed the demo program", "short_code", p.ShortCode, "keyword", p.Keywords[0], "committee", p.Committee.ID)
		return nil
	}
	moved, err := programs.FollowDemoLinks(ctx, m.PublicURL, "shortcode serve")
	switch {
	case donation.KindOf(err) == donation.Invalid:
		// The demo is a convenience: a public URL too long for its texts
		// must not keep the server from starting.
		m.Log.Warn("the demo program keeps its links", "err", err)
	case err != nil:
		return err
	case moved:
		m.Log.Info("the demo program's links follow the public URL", "public_url", m.PublicURL)
	}
	return nil
}

func (m *Main) closeAll(ln net.Listener) {
	ln.Close()
	if m.Store != nil {
		m.Store.Close()
	}
}

// Close stops accepting requests, lets those in flight finish until the
// shutdown timeout and closes the connections left, stops the workers and
// closes the store.
func (m *Main) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), m.Limits.OrDefaults().Shutdown)
	defer cancel()
	var errs []error
	shut := func(name string, srv *http.Server) {
		forced, err := httpserver.Shutdown(ctx, srv)
		if forced {
			m.Log.Warn("shutdown timeout passed; closed the connections left", "server", name)
		}
		errs = append(errs, err)
	}
	if m.srv != nil {
		shut("shortcode", m.srv)
	}
	if m.simSrv != nil {
		// Drop the carrier requests the simulator holds for a timeout,
		// which Shutdown would otherwise wait for.
		m.Sim.Close()
		shut("simulator", m.simSrv)
	}
	if m.cancel != nil {
		m.cancel()
	}
	m.wg.Wait()
	if m.Store != nil {
		errs = append(errs, m.Store.Close())
	}
	return errors.Join(errs...)
}

// redact hides a password in a database URL.
func redact(dsn string) string {
	if i := strings.Index(dsn, "://"); i >= 0 {
		if j := strings.Index(dsn[i+3:], "@"); j >= 0 {
			return dsn[:i+3] + "***" + dsn[i+3+j:]
		}
	}
	return dsn
}
