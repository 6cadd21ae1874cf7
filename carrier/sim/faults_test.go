package sim_test

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
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
