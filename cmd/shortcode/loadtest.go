package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"golang.org/x/term"

	"github.com/shortcode/shortcode/carrier/loadtest"
	"github.com/shortcode/shortcode/carrier/twilio"
	"github.com/shortcode/shortcode/cmd/shortcode/internal/client"
	"github.com/shortcode/shortcode/compliance"
)

// `shortcode loadtest` (docs/performance.md, "Running a load test"): the
// work is carrier/loadtest's; this wires it to the flags.

func init() {
	examples["loadtest"] = []string{
		"shortcode serve --db 'postgres://postgres@127.0.0.1:5432/load?sslmode=disable' --log-key \"$(cat log.key)\" --twilio-api-url http://127.0.0.1:8090 --twilio-auth-token s3cret --rate-limit 1000",
		"shortcode token create --db 'postgres://postgres@127.0.0.1:5432/load?sslmode=disable' --role auditor --name load",
		"shortcode loadtest --token sc_... --twilio-auth-token s3cret --donors 200 --duration 20s",
		"shortcode loadtest --token sc_... --twilio-auth-token s3cret --rate 100 --duration 20s --json --vegeta webhook.json",
	}
}

// loadtestCommand is `shortcode loadtest`.
type loadtestCommand struct {
	Donors    int           `placeholder:"N" help:"Closed loop: N donors, each answering a reply as soon as it arrives and starting again when done."`
	Rate      float64       `placeholder:"MOS" help:"Open loop: start conversations so as to send this many MOs a second, whatever the replies' pace."`
	Duration  time.Duration `default:"20s" help:"How long new conversations are started."`
	Drain     time.Duration `default:"10s" help:"How long the conversations in flight at the end then have to finish; those that do not are counted not_finished."`
	Timeout   time.Duration `default:"30s" help:"Longest wait for a reply; then the conversation is counted reply_timeout."`
	MaxOpen   int           `name:"max-open" default:"10000" help:"Open loop: the most conversations in flight; a start beyond is skipped and counted open_limit."`
	Program   string        `default:"demo" placeholder:"ID" help:"The program the donors give to; its texts are read through the API."`
	Amount    string        `default:"10" placeholder:"DOLLARS" help:"What every donor gives: one of the program's price points."`
	Numbers   string        `placeholder:"+1NPANXX" help:"The donors' numbers: the 10,000 of this exchange, postpaid US lines of the simulator (default: a random block, fresh for each run)."`
	PerNumber int           `name:"per-number" default:"4" help:"Conversations a number has at most: keep their amounts under the program's caps and their MOs under serve's --rate-limit."`

	Listen           string   `default:"127.0.0.1:8090" placeholder:"HOST:PORT" help:"Where the load test's Twilio Messages API listens: serve's --twilio-api-url."`
	PublicURL        string   `name:"public-url" placeholder:"URL" help:"serve's --public-url, which webhook signatures are computed over (default --server)."`
	Also             []string `placeholder:"URL" help:"More servers on the same database, with the same --public-url and --twilio-auth-token: each number's MOs go to one of --server and these, chosen by the number. Repeat, or separate with commas."`
	TwilioAuthToken  string   `name:"twilio-auth-token" required:"" help:"serve's --twilio-auth-token: signs the MOs and is the Messages API's password."`
	TwilioAccountSID string   `name:"twilio-account-sid" default:"${sim_account_sid}" help:"serve's --twilio-account-sid."`

	Sim    string        `default:"http://127.0.0.1:8081" placeholder:"URL" help:"The carrier simulator serve charges through (its --sim-addr), whose ledger the check reads."`
	Key    string        `placeholder:"VKEY" help:"The certification log's verifier key, to check the checkpoints' signatures (default: not checked; the inclusion proofs are)."`
	Settle time.Duration `default:"10s" help:"How long the invariant check is tried again while it fails, as records settle (the log's merge delay, charge outcomes)."`

	JSON   bool   `help:"Print the result as JSON."`
	Vegeta string `placeholder:"FILE" help:"Also write the webhook answers' latencies to FILE as vegeta's JSON report."`
	apiFlags
}

// Validate checks the values kong cannot.
func (c *loadtestCommand) Validate() error {
	switch {
	case (c.Donors > 0) == (c.Rate > 0):
		return errors.New("give one of --donors N (closed loop) and --rate MOS (open loop)")
	case c.Donors < 0 || c.Rate < 0:
		return errors.New("--donors and --rate must be positive")
	case c.Duration <= 0:
		return fmt.Errorf("--duration %v: want a positive duration", c.Duration)
	case c.Drain < 0:
		return fmt.Errorf("--drain %v: want a duration", c.Drain)
	case c.Timeout <= 0:
		return fmt.Errorf("--timeout %v: want a positive duration", c.Timeout)
	case c.MaxOpen < 1:
		return fmt.Errorf("--max-open %d: want at least 1", c.MaxOpen)
	case c.PerNumber < 1:
		return fmt.Errorf("--per-number %d: want at least 1", c.PerNumber)
	case c.Settle < 0:
		return fmt.Errorf("--settle %v: want a duration", c.Settle)
	}
	if _, ok := compliance.ParseAmount(c.Amount); !ok {
		return fmt.Errorf("--amount %q: want dollars, such as 10", c.Amount)
	}
	if c.Numbers != "" {
		if _, err := loadtest.NewNumbers(c.Numbers, 1); err != nil {
			return fmt.Errorf("--numbers: %w", err)
		}
	}
	return nil
}

func (c *loadtestCommand) Run(ctx context.Context, s *stdio) error {
	verifier, err := optionalVerifier("--key", c.Key)
	if err != nil {
		return err
	}
	cl, err := c.client("loadtest")
	if err != nil {
		return err
	}
	api := loadtestAPI{cl}
	p, err := loadtest.ReadProgram(ctx, api, c.Program)
	if err != nil {
		return fmt.Errorf("loadtest: %w", err)
	}
	cents, _ := compliance.ParseAmount(c.Amount) // checked by Validate
	script, err := loadtest.NewScript(p, cents)
	if err != nil {
		return usagef("loadtest", "--amount: %v", err)
	}
	block := c.Numbers
	if block == "" {
		block = loadtest.RandomBlock()
	}
	numbers, err := loadtest.NewNumbers(block, c.PerNumber)
	if err != nil {
		return usagef("loadtest", "--numbers: %v", err)
	}

	gw := loadtest.NewGateway(c.TwilioAccountSID, c.TwilioAuthToken, nil)
	ln, err := net.Listen("tcp", c.Listen)
	if err != nil {
		return fmt.Errorf("loadtest: the Messages API: %w", err)
	}
	srv := &http.Server{Handler: gw, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	defer srv.Close()

	server := strings.TrimSuffix(cl.Server(), "/")
	public := strings.TrimSuffix(c.PublicURL, "/")
	if public == "" {
		public = server
	}
	var also []string
	for _, u := range c.Also {
		also = append(also, strings.TrimSuffix(u, "/")+twilio.SMSPath)
	}
	conns := max(c.Donors, min(c.MaxOpen, 1000))
	hc := &http.Client{Timeout: 15 * time.Second, // Twilio's webhook timeout
		Transport: &http.Transport{MaxIdleConns: conns, MaxIdleConnsPerHost: conns, IdleConnTimeout: 90 * time.Second}}
	cfg := loadtest.Config{
		Webhook: &loadtest.Webhook{URL: server + twilio.SMSPath, SignURL: public + twilio.SMSPath, Also: also,
			AccountSID: c.TwilioAccountSID, AuthToken: c.TwilioAuthToken, HTTP: hc},
		Gateway: gw, Script: script, Numbers: numbers,
		Donors: c.Donors, Rate: c.Rate, MaxOpen: c.MaxOpen,
		Duration: c.Duration, Drain: c.Drain, Timeout: c.Timeout,
	}
	if f, ok := s.err.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		cfg.Progress = s.err
	}
	res := loadtest.Run(ctx, cfg)

	checker := &loadtest.Checker{API: api, SimURL: c.Sim, HTTP: &http.Client{Timeout: 60 * time.Second},
		Verifier: verifier, Settle: c.Settle}
	rep, err := checker.Check(ctx, p, res.Conversations)
	if err != nil {
		return fmt.Errorf("loadtest: the invariant check: %w", err)
	}
	res.Invariants = &rep

	if c.Vegeta != "" {
		if err := writeFile(c.Vegeta, loadtest.VegetaReport(res.Attempts)); err != nil {
			return fmt.Errorf("loadtest: --vegeta: %w", err)
		}
	}
	if c.JSON {
		err = writeJSON(s.out, res)
	} else {
		err = res.WriteText(s.out)
	}
	switch {
	case err != nil:
		return err
	case !rep.Hold:
		return failure{fmt.Errorf("loadtest: invariants of SPEC §10 do not hold: %d violations", len(rep.Violations))}
	case res.Completed == 0:
		return failure{errors.New("loadtest: no conversation completed (is serve's --twilio-api-url this --listen address, and its --twilio-auth-token this one?)")}
	}
	return nil
}

// loadtestAPI is the operator API's client as carrier/loadtest uses it:
// a 404 answer wraps loadtest.ErrNotFound.
type loadtestAPI struct{ *client.Client }

func (a loadtestAPI) Get(ctx context.Context, path string, query url.Values, out any) error {
	err := a.Client.Get(ctx, path, query, out)
	if client.StatusOf(err) == http.StatusNotFound {
		return fmt.Errorf("%w: %w", loadtest.ErrNotFound, err)
	}
	return err
}

// writeFile writes v as JSON to the file name, whole or not at all.
func writeFile(name string, v any) error {
	return writeOutput(name, io.Discard, func(w io.Writer) error { return writeJSON(w, v) })
}
