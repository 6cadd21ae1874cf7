package sim_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shortcode/shortcode/carrier/sim"
)

// errorCount makes n lookups and counts the 500s; any other answer but 200
// fails the test.
func errorCount(t *testing.T, c *oneAPI, n int) int {
	t.Helper()
	errs := 0
	for range n {
		r := c.lookup("+12125550100")
		switch {
		case r.err != nil:
			t.Fatal(r.err)
		case r.status == 500:
			errs++
		case r.status != 200:
			t.Fatalf("lookup: %d %s", r.status, r.body)
		}
	}
	return errs
}

func TestErrorRate(t *testing.T) {
	cfg := sim.Config{Seed: 42, Faults: sim.Faults{ErrorRate: 0.1}}
	_, c := startCarrier(t, cfg)
	c.http = c.srv.Client() // keep-alive: 500s are answers
	n := errorCount(t, c, 1000)
	t.Logf("%d of 1000 lookups answered 500", n)
	if n < 60 || n > 140 {
		t.Errorf("%d of 1000 lookups answered 500 at ErrorRate 0.1", n)
	}
	// The same seed, the same run.
	_, c2 := startCarrier(t, cfg)
	c2.http = c2.srv.Client()
	if n2 := errorCount(t, c2, 1000); n2 != n {
		t.Errorf("seed 42 gave %d errors, then %d", n, n2)
	}

	// Charges answered 500 are not applied.
	s, c := startCarrier(t, sim.Config{Faults: sim.Faults{ErrorRate: 0.5}})
	c.http = c.srv.Client()
	charged := 0
	for i := range 200 {
		r := c.charge("+12125550100", fmt.Sprint("D", i), fmt.Sprint("D", i, "-1"), "1.00")
		switch r.status {
		case 201:
			charged++
		case 500:
			exception(t, r, 500)
		default:
			t.Fatalf("charge: %d %s %v", r.status, r.body, r.err)
		}
	}
	if n := len(s.Ledger()); n != charged || n < 60 || n > 140 {
		t.Errorf("%d charged, ledger %d entries, at ErrorRate 0.5 of 200", charged, n)
	}
}

// Timeouts: held for Config.Timeout, then dropped; half the charges that
// time out are applied.
func TestTimeoutRate(t *testing.T) {
	s, c := startCarrier(t, sim.Config{Timeout: time.Millisecond, Faults: sim.Faults{TimeoutRate: 0.5}})
	const n = 400
	var dropped []int
	answered := 0
	for i := range n {
		r := c.charge("+12125550100", fmt.Sprint("D", i), fmt.Sprint("D", i, "-1"), "1.00")
		switch {
		case r.err != nil:
			dropped = append(dropped, i)
		case r.status == 201:
			answered++
		default:
			t.Fatalf("charge: %d %s", r.status, r.body)
		}
	}
	if len(dropped) < 140 || len(dropped) > 260 {
		t.Errorf("%d of %d charges timed out at TimeoutRate 0.5", len(dropped), n)
	}
	applied := len(s.Ledger()) - answered
	t.Logf("%d of %d charges timed out, %d of them applied", len(dropped), n, applied)
	if applied < len(dropped)/4 || applied > len(dropped)*3/4 {
		t.Errorf("%d of %d charges that timed out were applied, want about half", applied, len(dropped))
	}

	// Retried with the same correlators, every charge is in the ledger once.
	s.SetFaults(sim.Faults{})
	for _, i := range dropped {
		if r := c.charge("+12125550100", fmt.Sprint("D", i), fmt.Sprint("D", i, "-1"), "1.00"); r.status != 201 {
			t.Fatalf("retry: %d %s %v", r.status, r.body, r.err)
		}
	}
	if got := len(s.Ledger()); got != n {
		t.Errorf("ledger has %d entries, want %d", got, n)
	}

	// Lookups, status queries and lists time out too.
	s.SetFaults(sim.Faults{TimeoutRate: 1})
	for _, path := range []string{
		"/lookup/v1/" + tel("+12125550100"),
		"/payment/v1/" + tel("+12125550100") + "/transactions",
		"/payment/v1/" + tel("+12125550100") + "/transactions/amount/" + s.Ledger()[0].ServerRef,
	} {
		if r := c.do("GET", path, ""); r.err == nil {
			t.Errorf("GET %s: %d, want a dropped connection", path, r.status)
		}
	}
}

func TestLatency(t *testing.T) {
	const latency = 40 * time.Millisecond
	s, c := startCarrier(t, sim.Config{Faults: sim.Faults{Latency: latency}})
	start := time.Now()
	if r := c.lookup("+12125550100"); r.status != 200 {
		t.Fatalf("lookup: %d %s %v", r.status, r.body, r.err)
	}
	if d := time.Since(start); d < latency {
		t.Errorf("lookup answered after %v, want at least %v", d, latency)
	}
	start = time.Now()
	if r := c.charge("+12125550100", "D1", "D1-1", "1.00"); r.status != 201 {
		t.Fatalf("charge: %d %s %v", r.status, r.body, r.err)
	}
	if d := time.Since(start); d < latency {
		t.Errorf("charge answered after %v, want at least %v", d, latency)
	}
	// Not the Messages API.
	s.SetFaults(sim.Faults{Latency: time.Hour, ErrorRate: 1, TimeoutRate: 1})
	status, body := apiCall(t, c.srv, "POST", messagesPath, account, token, url.Values{"To": {phone}, "From": {short}, "Body": {"hi"}})
	if status != 201 {
		t.Errorf("Messages API under faults: %d %s", status, body)
	}
}

func TestSetFaults(t *testing.T) {
	s, c := startCarrier(t, sim.Config{Faults: sim.Faults{ErrorRate: 0.25}})
	if f := s.Faults(); f != (sim.Faults{ErrorRate: 0.25}) {
		t.Errorf("Faults() = %+v", f)
	}
	s.SetFaults(sim.Faults{Latency: -time.Second, TimeoutRate: 2, ErrorRate: -1, DuplicateRate: math.NaN()})
	if f := s.Faults(); f != (sim.Faults{TimeoutRate: 1}) {
		t.Errorf("clamped = %+v", f)
	}

	r := c.do("POST", "/sim/faults", `{"latency":"10ms","timeout_rate":0.1,"error_rate":0.2,"duplicate_rate":0.3}`)
	want := `{"latency":"10ms","timeout_rate":0.1,"error_rate":0.2,"duplicate_rate":0.3}` + "\n"
	if r.status != 200 || r.body != want {
		t.Errorf("POST /sim/faults = %d %s", r.status, r.body)
	}
	if f := s.Faults(); f != (sim.Faults{Latency: 10 * time.Millisecond, TimeoutRate: 0.1, ErrorRate: 0.2, DuplicateRate: 0.3}) {
		t.Errorf("Faults() = %+v", f)
	}
	if r := c.do("GET", "/sim/faults", ""); r.status != 200 || r.body != want {
		t.Errorf("GET /sim/faults = %d %s", r.status, r.body)
	}
	for _, body := range []string{
		`{"messages_latency":"-1s"}`,
		`{"latency":"soon"}`,
		`{"latency":"-1s"}`,
		`{"latency":10}`,
		`{"error_rate":1.5}`,
		`{"timeout_rate":-0.1}`,
		`{"duplicate_rate":"half"}`,
		`{"errors":0.1}`,
		`not json`,
	} {
		if r := c.do("POST", "/sim/faults", body); r.status != 400 {
			t.Errorf("POST /sim/faults %s: %d %s, want 400", body, r.status, r.body)
		}
	}
	if f := s.Faults(); f.ErrorRate != 0.2 {
		t.Errorf("a refused POST changed the faults: %+v", f)
	}
	// Fields left out are zero.
	if r := c.do("POST", "/sim/faults", `{}`); r.status != 200 || s.Faults() != (sim.Faults{}) {
		t.Errorf("POST {} = %d %s, faults %+v", r.status, r.body, s.Faults())
	}
	r = c.do("POST", "/sim/faults", `{"messages_latency":"1.5s"}`)
	if f := s.Faults(); r.status != 200 || f != (sim.Faults{MessagesLatency: 1500 * time.Millisecond}) {
		t.Errorf("POST messages_latency = %d %s; Faults() = %+v", r.status, r.body, f)
	}
}

func TestDuplicateRate(t *testing.T) {
	var mu sync.Mutex
	deliveries := map[string]int{}
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		mu.Lock()
		deliveries[r.PostForm.Get("MessageSid")]++
		mu.Unlock()
	}))
	defer hook.Close()
	s, _ := startSim(t, sim.Config{WebhookURL: hook.URL, Seed: 7, Faults: sim.Faults{DuplicateRate: 0.5}})
	dups := 0
	for range 200 {
		d, err := s.SendMO(context.Background(), sim.PhoneMO{From: phone, To: short, Body: "YES"})
		if err != nil {
			t.Fatal(err)
		}
		if d.DuplicateStatus == 200 {
			dups++
			if deliveries[d.SID] != 2 {
				t.Errorf("%s delivered %d times, want 2", d.SID, deliveries[d.SID])
			}
		} else if deliveries[d.SID] != 1 {
			t.Errorf("%s delivered %d times, want 1", d.SID, deliveries[d.SID])
		}
	}
	t.Logf("%d of 200 MOs delivered twice", dups)
	if dups < 60 || dups > 140 {
		t.Errorf("%d of 200 MOs delivered twice at DuplicateRate 0.5", dups)
	}
	s.SetFaults(sim.Faults{})
	if d, err := s.SendMO(context.Background(), sim.PhoneMO{From: phone, To: short, Body: "YES"}); err != nil || d.DuplicateStatus != 0 {
		t.Errorf("DuplicateRate 0: %+v %v", d, err)
	}
}

// Close drops the requests held for a timeout at once.
func TestCloseDropsHeldRequests(t *testing.T) {
	s, c := startCarrier(t, sim.Config{Timeout: time.Minute, Faults: sim.Faults{TimeoutRate: 1}})
	done := make(chan reply)
	go func() { done <- c.lookup("+12125550100") }()
	time.Sleep(50 * time.Millisecond)
	start := time.Now()
	s.Close()
	select {
	case r := <-done:
		if r.err == nil {
			t.Errorf("held request answered %d", r.status)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("dropped %v after Close", d)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("held request still held 10s after Close")
	}
}

// The Messages API's refusals: each fault refuses every send at rate 1,
// takes no MT and is counted; a mix refuses about its share, the rest
// taken; a timeout is held for Config.Timeout and dropped unanswered.
func TestMessagesFaults(t *testing.T) {
	form := url.Values{"To": {phone}, "From": {short}, "Body": {"hi"}}
	for _, tt := range []struct {
		name   string
		faults sim.Faults
		status int
		code   int
		kind   string
	}{
		{"TooMany", sim.Faults{MessagesTooManyRate: 1}, 429, 20429, sim.RefusedTooMany},
		{"Unavailable", sim.Faults{MessagesUnavailableRate: 1}, 503, 0, sim.RefusedUnavailable},
		{"Timeout", sim.Faults{MessagesTimeoutRate: 1}, 0, 0, sim.RefusedTimeout},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s, srv := startSim(t, sim.Config{Timeout: 50 * time.Millisecond, Faults: tt.faults})
			for range 3 {
				if tt.kind == sim.RefusedTimeout {
					req, _ := http.NewRequest("POST", srv.URL+messagesPath, strings.NewReader(form.Encode()))
					req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
					req.SetBasicAuth(account, token)
					began := time.Now()
					if resp, err := srv.Client().Do(req); err == nil {
						t.Fatalf("a held send was answered %d", resp.StatusCode)
					}
					if took := time.Since(began); took < 50*time.Millisecond {
						t.Errorf("dropped after %v, before Config.Timeout", took)
					}
					continue
				}
				status, body := apiCall(t, srv, "POST", messagesPath, account, token, form)
				var e apiError
				if status != tt.status || (tt.code != 0 && (json.Unmarshal([]byte(body), &e) != nil || e.Code != tt.code)) {
					t.Fatalf("POST Messages.json = %d %s, want %d with code %d", status, body, tt.status, tt.code)
				}
			}
			if got := s.Messages(phone); len(got) != 0 {
				t.Errorf("refused sends took %d MTs", len(got))
			}
			if got := s.RefusedMTs(); got[tt.kind] != 3 || len(got) != 1 {
				t.Errorf("RefusedMTs() = %v, want 3 %s", got, tt.kind)
			}
		})
	}

	s, srv := startSim(t, sim.Config{Seed: 7, Faults: sim.Faults{MessagesTooManyRate: 0.2, MessagesUnavailableRate: 0.2}})
	for range 500 {
		apiCall(t, srv, "POST", messagesPath, account, token, form)
	}
	refused := s.RefusedMTs()
	taken := len(s.Messages(phone))
	t.Logf("of 500 sends: %v refused, %d taken", refused, taken)
	if n := refused[sim.RefusedTooMany]; n < 70 || n > 130 {
		t.Errorf("%d of 500 sends answered 429 at 0.2", n)
	}
	if n := refused[sim.RefusedUnavailable]; n < 70 || n > 130 {
		t.Errorf("%d of 500 sends answered 503 at 0.2", n)
	}
	if taken+refused[sim.RefusedTooMany]+refused[sim.RefusedUnavailable] != 500 {
		t.Errorf("%d taken and %v refused of 500", taken, refused)
	}

	// The knobs on the wire.
	_, c := startCarrier(t, sim.Config{})
	body := `{"latency":"0s","timeout_rate":0,"error_rate":0,"duplicate_rate":0,"messages_too_many_rate":0.1,` +
		`"messages_unavailable_rate":0.2,"messages_timeout_rate":0.3}` + "\n"
	if r := c.do("POST", "/sim/faults", body); r.status != 200 || r.body != body {
		t.Errorf("POST /sim/faults = %d %s, want %s", r.status, r.body, body)
	}
	if r := c.do("POST", "/sim/faults", `{"messages_timeout_rate":1.1}`); r.status != 400 {
		t.Errorf("POST messages_timeout_rate 1.1 = %d %s, want 400", r.status, r.body)
	}
}
