package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/shortcode/shortcode/carrier/loadtest"
	"github.com/shortcode/shortcode/carrier/sim"
	"github.com/shortcode/shortcode/carrier/twilio"
	"github.com/shortcode/shortcode/cmd/shortcode/internal/client"
	"github.com/shortcode/shortcode/compliance/certlog"
	"github.com/shortcode/shortcode/donation/auth"
	"github.com/shortcode/shortcode/storage"
	"github.com/shortcode/shortcode/storage/storagetest"
)

// TestLoadtest: a few seconds of `shortcode loadtest` against `shortcode
// serve` on each store, closed loop then open loop: conversations complete,
// SPEC §10's invariants 1-3 hold, and the JSON and vegeta outputs parse. A
// ledger doctored to charge every donation twice makes the check fail:
// exit 1.
func TestLoadtest(t *testing.T) {
	for _, driver := range storagetest.Drivers {
		t.Run(driver, func(t *testing.T) {
			dsn := storagetest.DSN(t, driver)
			addr, simAddr, listen := freeAddr(t), freeAddr(t), freeAddr(t)
			srv := serve(t, addr, "--db", dsn, "--sim-addr", simAddr, "--twilio-api-url", "http://"+listen,
				"--twilio-auth-token", "load-token", "--merge-delay", "100ms")
			tok := shortcode(t, "", nil, "token", "create", "--db", dsn, "--role", "auditor", "--name", "load", "--json")
			tok.want(t, 0)
			var created struct{ Secret string }
			if err := json.Unmarshal([]byte(tok.stdout), &created); err != nil || created.Secret == "" {
				t.Fatalf("token create: %q: %v", tok.stdout, err)
			}
			vkey, err := certlog.VerifierKey(testLogKey)
			if err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			common := []string{"loadtest", "--server", srv.url, "--sim", "http://" + simAddr, "--listen", listen,
				"--token", created.Secret, "--twilio-auth-token", "load-token", "--key", vkey}

			args := append(common, "--donors", "20", "--duration", "3s", "--json", "--vegeta", "webhook.json")
			r := shortcode(t, dir, nil, args...)
			r.want(t, 0, args...)
			var res struct {
				MOs        int                 `json:"mos"`
				MTs        int                 `json:"mts"`
				Completed  int                 `json:"conversations_completed"`
				Errors     map[string]int      `json:"errors"`
				Webhook    struct{ Count int } `json:"webhook_latency"`
				Reply      struct{ Count int } `json:"reply_latency"`
				Invariants struct {
					Hold       bool `json:"hold"`
					Donations  int  `json:"completed_donations"`
					Charges    int  `json:"carrier_charges"`
					Signed     bool `json:"checkpoint_signature_checked"`
					Violations []any
				} `json:"invariants"`
			}
			if err := json.Unmarshal([]byte(r.stdout), &res); err != nil {
				t.Fatalf("--json: %v\n%s", err, r.stdout)
			}
			inv := res.Invariants
			switch {
			case res.Completed == 0:
				t.Errorf("no conversation completed:\n%s\n%s", r.stdout, r.stderr)
			case !inv.Hold || len(inv.Violations) > 0 || !inv.Signed:
				t.Errorf("invariants: %+v, want them to hold, signatures checked", inv)
			case inv.Donations != res.Completed || inv.Charges != res.Completed:
				t.Errorf("%d conversations completed; the check saw %d completed donations and %d charges", res.Completed, inv.Donations, inv.Charges)
			case res.MOs < 3*res.Completed || res.Reply.Count != res.MOs || res.Webhook.Count < res.MOs || res.MTs != res.MOs:
				t.Errorf("%d MOs, %d MTs, %d webhook answers, %d replies for %d conversations", res.MOs, res.MTs, res.Webhook.Count, res.Reply.Count, res.Completed)
			case len(res.Errors) > 0:
				t.Errorf("errors: %v", res.Errors)
			}
			b, err := os.ReadFile(filepath.Join(dir, "webhook.json"))
			if err != nil {
				t.Fatal(err)
			}
			var v struct {
				Requests    int            `json:"requests"`
				StatusCodes map[string]int `json:"status_codes"`
				Latencies   struct {
					P99 int64 `json:"99th"`
				} `json:"latencies"`
			}
			if err := json.Unmarshal(b, &v); err != nil || v.Requests != res.Webhook.Count || v.StatusCodes["200"] != v.Requests || v.Latencies.P99 <= 0 {
				t.Errorf("--vegeta: %+v (%v), want %d requests answered 200:\n%s", v, err, res.Webhook.Count, b)
			}

			// The open loop, for a person.
			args = append(common, "--rate", "30", "--duration", "1s")
			r = shortcode(t, dir, nil, args...)
			r.want(t, 0, args...)
			for _, want := range []string{"open loop, 30 MOs/s", "MO -> reply", "errors          none", "invariants 1-3  HOLD"} {
				if !strings.Contains(r.stdout, want) {
					t.Errorf("the open loop's output has no %q:\n%s", want, r.stdout)
				}
			}

			if driver == storage.SQLite {
				// The carrier's ledger with every charge twice.
				doctored := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
					resp, err := http.Get("http://" + simAddr + req.URL.Path)
					if err != nil {
						http.Error(w, err.Error(), http.StatusBadGateway)
						return
					}
					defer resp.Body.Close()
					var l struct{ Charges []sim.Charge }
					if err := json.NewDecoder(resp.Body).Decode(&l); err != nil {
						http.Error(w, err.Error(), http.StatusBadGateway)
						return
					}
					l.Charges = append(l.Charges, l.Charges...)
					w.Header().Set("Content-Type", "application/json")
					json.NewEncoder(w).Encode(map[string]any{"charges": l.Charges})
				}))
				defer doctored.Close()
				args = append(common, "--sim", doctored.URL, "--donors", "5", "--duration", "1s", "--settle", "500ms")
				r = shortcode(t, dir, nil, args...)
				r.want(t, exitFailure, args...)
				if !strings.Contains(r.stdout, "invariants 1-3  FAIL") || !strings.Contains(r.stdout, "charged 2 times") ||
					!strings.Contains(r.stderr, "invariants of SPEC §10 do not hold") {
					t.Errorf("with every charge twice:\n%s\n%s", r.stdout, r.stderr)
				}
			}

			// An amount the program does not offer is a usage error.
			args = append(common, "--donors", "1", "--duration", "1s", "--amount", "7")
			shortcode(t, dir, nil, args...).want(t, exitUsage, args...)
			srv.stop()
		})
	}
}

// TestLoadtestUsage: command lines that cannot be run exit 2, before any
// load.
func TestLoadtestUsage(t *testing.T) {
	base := []string{"loadtest", "--token", "sc_x", "--twilio-auth-token", "t", "--server", "http://127.0.0.1:1"}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"neither loop", base, "give one of --donors N"},
		{"both loops", append(base, "--donors", "2", "--rate", "10"), "give one of --donors N"},
		{"negative donors", append(base, "--donors=-2"), "give one of --donors N"},
		{"no duration", append(base, "--donors", "2", "--duration", "0s"), "--duration 0s"},
		{"bad duration", append(base, "--donors", "2", "--duration", "soon"), "want a duration"},
		{"no timeout", append(base, "--donors", "2", "--timeout", "0s"), "--timeout"},
		{"bad amount", append(base, "--donors", "2", "--amount", "ten"), "--amount"},
		{"numbers not a US block", append(base, "--donors", "2", "--numbers", "+1416555"), "not a US block"},
		{"numbers not a block", append(base, "--donors", "2", "--numbers", "+12125550100"), "--numbers"},
		{"per-number zero", append(base, "--donors", "2", "--per-number", "0"), "--per-number"},
		{"no auth token", []string{"loadtest", "--token", "sc_x", "--donors", "2"}, "--twilio-auth-token"},
		{"no API token", []string{"loadtest", "--twilio-auth-token", "t", "--donors", "2"}, "--token is required"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := shortcode(t, "", nil, tc.args...)
			r.want(t, exitUsage, tc.args...)
			if !strings.Contains(r.stderr, tc.want) || !strings.Contains(r.stderr, `shortcode loadtest --help`) {
				t.Errorf("stderr %q, want %q and the hint", r.stderr, tc.want)
			}
		})
	}
}

// TestLoadtestInProcess runs the load test's parts in this process against
// serve's Main, so that `go test -race` watches the donors, the gateway and
// the check together.
func TestLoadtestInProcess(t *testing.T) {
	gw := loadtest.NewGateway(defaultAccountSID, "test-token", nil)
	api := httptest.NewServer(gw)
	defer api.Close()
	m := startMainWith(t, storage.SQLite, func(m *Main) {
		m.TwilioAPIURL, m.MergeDelay = api.URL, 50*time.Millisecond
	})
	cl, err := client.New(m.URL, tokenFor(t, m, auth.Auditor), nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	p, err := loadtest.ReadProgram(ctx, loadtestAPI{cl}, "demo")
	if err != nil {
		t.Fatal(err)
	}
	script, err := loadtest.NewScript(p, 500)
	if err != nil {
		t.Fatal(err)
	}
	numbers, err := loadtest.NewNumbers(loadtest.RandomBlock(), 2)
	if err != nil {
		t.Fatal(err)
	}
	res := loadtest.Run(ctx, loadtest.Config{
		Webhook: &loadtest.Webhook{URL: m.URL + twilio.SMSPath, SignURL: m.PublicURL + twilio.SMSPath,
			AccountSID: defaultAccountSID, AuthToken: "test-token", HTTP: &http.Client{Timeout: 15 * time.Second}},
		Gateway: gw, Script: script, Numbers: numbers,
		Donors: 5, Duration: time.Second, Drain: 10 * time.Second, Timeout: 10 * time.Second,
	})
	if res.Completed == 0 || res.Failed != 0 || len(res.Errors) != 0 {
		t.Fatalf("%d conversations completed, %d failed, errors %v", res.Completed, res.Failed, res.Errors)
	}
	vkey, _ := certlog.VerifierKey(testLogKey)
	v, err := note.NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	checker := &loadtest.Checker{API: loadtestAPI{cl}, SimURL: m.SimURL, HTTP: http.DefaultClient, Verifier: v, Settle: 5 * time.Second}
	rep, err := checker.Check(ctx, p, res.Conversations)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Hold || rep.Donations != res.Completed || rep.ChargedCents != int64(500*res.Completed) {
		t.Errorf("%d completed; the check: %+v", res.Completed, rep)
	}
}
