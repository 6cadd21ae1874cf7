package metrics

import (
	"context"
	"fmt"
	mrand "math/rand/v2"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/shortcode/shortcode/compliance"
	"github.com/shortcode/shortcode/donation"
	"github.com/shortcode/shortcode/donation/auditlog"
	"github.com/shortcode/shortcode/donation/donationtest"
	"github.com/shortcode/shortcode/donation/httpserver"
	"github.com/shortcode/shortcode/storage"
	"github.com/shortcode/shortcode/storage/storagetest"
)

var start = time.Date(2027, 3, 10, 15, 0, 0, 0, time.UTC)

const shortCode = "62262"

// looker finds every number a US postpaid line of the test carrier.
type looker struct{}

func (looker) Lookup(context.Context, string) (donation.Line, error) {
	return donation.Line{Country: "US", Carrier: donationtest.DefaultCarrier, Type: donation.Postpaid}, nil
}

// gateway takes every MT, and keeps them by number.
type gateway struct {
	mu   sync.Mutex
	n    int
	sent map[string][]string
}

func (g *gateway) Send(_ context.Context, mt donation.MT) (string, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.n++
	g.sent[mt.To] = append(g.sent[mt.To], mt.Body)
	return fmt.Sprintf("SM%032x", g.n), nil
}

func (g *gateway) Sent(context.Context, donation.MT, time.Time) ([]string, error) { return nil, nil }

func (g *gateway) last(phone string) string {
	g.mu.Lock()
	defer g.mu.Unlock()
	if s := g.sent[phone]; len(s) > 0 {
		return s[len(s)-1]
	}
	return ""
}

// env is the service on a real store, observed by the metrics.
type env struct {
	t       *testing.T
	ctx     context.Context
	db      *storage.DB
	m       *Metrics
	svc     *donation.Service
	log     *auditlog.Log
	clock   *donationtest.Clock
	carrier *donationtest.Carrier
	gateway *gateway
	seq     int
}

func newEnv(t *testing.T, db *storage.DB) *env {
	ctx := context.Background()
	if err := db.SaveProgram(ctx, compliance.DemoProgram("https://sc.example")); err != nil {
		t.Fatal(err)
	}
	clock := donationtest.NewClock(start)
	e := &env{t: t, ctx: ctx, db: db, clock: clock, m: New(db, clock, nil),
		carrier: &donationtest.Carrier{}, gateway: &gateway{sent: map[string][]string{}}}
	e.svc = &donation.Service{
		Store: db, Outbox: db, Looker: looker{}, Carriers: e.carrier, Sender: e.gateway, Clock: clock,
		ChargeBackoff: time.Nanosecond,
		Rand:          mrand.NewChaCha8([32]byte{1}),
		PINKey:        []byte("metrics PIN key, 32 bytes long.."),
		Observer:      e.m,
	}
	e.svc.Start()
	e.log = &auditlog.Log{Store: db, Signer: storagetest.LogSigner(), Clock: clock, Observer: e.m}
	return e
}

// text delivers an MO a second after the last one and returns HandleMO's
// error.
func (e *env) text(phone, body string) error {
	e.seq++
	e.clock.Advance(time.Second)
	return e.svc.HandleMO(e.ctx, donation.MO{Gateway: "test", MessageID: fmt.Sprintf("SM%032x", e.seq),
		From: phone, To: shortCode, Body: body})
}

// say is text that must succeed, then sends what it caused.
func (e *env) say(phone, body string) {
	e.t.Helper()
	if err := e.text(phone, body); err != nil {
		e.t.Fatalf("%s says %q: %v", phone, body, err)
	}
	e.send()
}

// send runs the outbox until nothing is due.
func (e *env) send() {
	e.t.Helper()
	for range 10 {
		n, err := e.svc.SendPending(e.ctx)
		if err != nil {
			e.t.Fatal(err)
		}
		if n == 0 {
			return
		}
	}
}

func (e *env) charge() {
	e.t.Helper()
	if _, err := e.svc.ChargePending(e.ctx); err != nil {
		e.t.Fatal(err)
	}
	e.send()
}

var rePIN = regexp.MustCompile(`Your PIN is ([0-9]{6})`)

// give runs a whole donation up to the charge.
func (e *env) give(phone string, dollars int) {
	e.t.Helper()
	e.say(phone, fmt.Sprintf("GIVE %d", dollars))
	e.say(phone, "YES")
	m := rePIN.FindStringSubmatch(e.gateway.last(phone))
	if m == nil {
		e.t.Fatalf("%s got no PIN: %q", phone, e.gateway.last(phone))
	}
	e.say(phone, m[1])
	e.charge()
}

// compare checks the named metrics against the exposition text want.
func (e *env) compare(want string, names ...string) {
	e.t.Helper()
	if err := testutil.GatherAndCompare(e.m.Gatherer(), strings.NewReader(want), names...); err != nil {
		e.t.Error(err)
	}
}

const (
	alice = "+12125550101"
	bob   = "+12125550102"
	carol = "+12125550103"
	dave  = "+12125550104"
)

// TestMetricsFollowDonations drives donations through the service on a real
// store and checks that the metrics count what happened.
func TestMetricsFollowDonations(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		e := newEnv(t, db)

		// The keyword is answered; its reply waits in the outbox.
		if err := e.text(alice, "GIVE 20"); err != nil {
			t.Fatal(err)
		}
		e.clock.Advance(3 * time.Second)
		e.compare(`
# HELP shortcode_outbox_depth MTs in the outbox due to be sent now (not those backing off after a failed attempt).
# TYPE shortcode_outbox_depth gauge
shortcode_outbox_depth 1
# HELP shortcode_outbox_oldest_age_seconds Age of the oldest MT waiting to be sent, due or backing off; 0 when none is.
# TYPE shortcode_outbox_oldest_age_seconds gauge
shortcode_outbox_oldest_age_seconds 3
`, "shortcode_outbox_depth", "shortcode_outbox_oldest_age_seconds")
		e.send()
		e.compare(`
# HELP shortcode_mt_delay_seconds Time from an MT being queued (committed with the MO or event that caused it) to the gateway taking it.
# TYPE shortcode_mt_delay_seconds histogram
shortcode_mt_delay_seconds_bucket{le="0.005"} 0
shortcode_mt_delay_seconds_bucket{le="0.01"} 0
shortcode_mt_delay_seconds_bucket{le="0.025"} 0
shortcode_mt_delay_seconds_bucket{le="0.05"} 0
shortcode_mt_delay_seconds_bucket{le="0.1"} 0
shortcode_mt_delay_seconds_bucket{le="0.25"} 0
shortcode_mt_delay_seconds_bucket{le="0.5"} 0
shortcode_mt_delay_seconds_bucket{le="1"} 0
shortcode_mt_delay_seconds_bucket{le="2.5"} 0
shortcode_mt_delay_seconds_bucket{le="5"} 1
shortcode_mt_delay_seconds_bucket{le="10"} 1
shortcode_mt_delay_seconds_bucket{le="30"} 1
shortcode_mt_delay_seconds_bucket{le="60"} 1
shortcode_mt_delay_seconds_bucket{le="120"} 1
shortcode_mt_delay_seconds_bucket{le="300"} 1
shortcode_mt_delay_seconds_bucket{le="+Inf"} 1
shortcode_mt_delay_seconds_sum 3
shortcode_mt_delay_seconds_count 1
# HELP shortcode_outbox_depth MTs in the outbox due to be sent now (not those backing off after a failed attempt).
# TYPE shortcode_outbox_depth gauge
shortcode_outbox_depth 0
# HELP shortcode_outbox_oldest_age_seconds Age of the oldest MT waiting to be sent, due or backing off; 0 when none is.
# TYPE shortcode_outbox_oldest_age_seconds gauge
shortcode_outbox_oldest_age_seconds 0
`, "shortcode_mt_delay_seconds", "shortcode_outbox_depth", "shortcode_outbox_oldest_age_seconds")

		// Alice finishes that gift and gives again: $40 of the $50
		// monthly cap. A third $20 is refused by a cap; she gives up.
		e.say(alice, "YES")
		e.say(alice, rePIN.FindStringSubmatch(e.gateway.last(alice))[1])
		e.charge()
		e.give(alice, 20)
		e.say(alice, "GIVE 20")
		e.say(alice, "NO")
		if got := testutil.ToFloat64(e.m.capRefusals.WithLabelValues(string(compliance.CapMonth))) +
			testutil.ToFloat64(e.m.capRefusals.WithLabelValues(string(compliance.CapRolling))); got != 1 {
			t.Errorf("cap refusals (month or 31 days) = %v, want 1", got)
		}

		// Bob confirms, then texts STOP: his request is cancelled.
		e.say(bob, "GIVE 10")
		e.say(bob, "YES")
		e.say(bob, "STOP")
		// Carol's first charge attempt times out: an unknown outcome,
		// waiting to be asked again; the next one charges.
		e.carrier.LoseNext(1)
		e.say(carol, "GIVE 5")
		e.say(carol, "YES")
		e.say(carol, rePIN.FindStringSubmatch(e.gateway.last(carol))[1])
		e.charge()
		e.compare(`
# HELP shortcode_charges_pending Donations whose charge was posted and whose outcome is not recorded yet.
# TYPE shortcode_charges_pending gauge
shortcode_charges_pending 1
# HELP shortcode_charges_unknown Charges whose last attempt's outcome is unknown (a timeout, a 5xx), waiting to ask the carrier again.
# TYPE shortcode_charges_unknown gauge
shortcode_charges_unknown 1
`, "shortcode_charges_pending", "shortcode_charges_unknown")
		e.clock.Advance(time.Minute)
		e.charge()
		// Dave's request expires.
		e.say(dave, "GIVE")
		e.clock.Advance(time.Hour)
		if n, err := e.svc.ExpireDue(e.ctx); err != nil || n != 1 {
			t.Fatalf("ExpireDue = %d, %v", n, err)
		}
		// A replayed MO and one from an invalid number change nothing.
		e.seq--
		if err := e.text(dave, "HELP"); err == nil {
			t.Fatal("replayed MO: no error")
		}
		if err := e.svc.HandleMO(e.ctx, donation.MO{Gateway: "test", MessageID: "SMbad", From: "12", To: shortCode, Body: "GIVE"}); err == nil {
			t.Fatal("MO from 12: no error")
		}

		e.compare(`
# HELP shortcode_donation_funnel_total Donations reaching each step from keyword to charge: keyword, amount, yes, pin, charged; by program.
# TYPE shortcode_donation_funnel_total counter
shortcode_donation_funnel_total{program="demo",step="keyword"} 6
shortcode_donation_funnel_total{program="demo",step="amount"} 4
shortcode_donation_funnel_total{program="demo",step="yes"} 4
shortcode_donation_funnel_total{program="demo",step="pin"} 3
shortcode_donation_funnel_total{program="demo",step="charged"} 3
# HELP shortcode_donations_finished_total Donations reaching a final status, by program and status.
# TYPE shortcode_donations_finished_total counter
shortcode_donations_finished_total{program="demo",status="cancelled"} 2
shortcode_donations_finished_total{program="demo",status="completed"} 3
shortcode_donations_finished_total{program="demo",status="expired"} 1
# HELP shortcode_donations_completed_cents_total Amounts of completed donations, in cents, by program.
# TYPE shortcode_donations_completed_cents_total counter
shortcode_donations_completed_cents_total{program="demo"} 4500
# HELP shortcode_opt_outs_total Opt-outs recorded, by source: keyword (STOP...), inferred (a text that looked like one), gateway (the gateway said the number unsubscribed).
# TYPE shortcode_opt_outs_total counter
shortcode_opt_outs_total{source="gateway"} 0
shortcode_opt_outs_total{source="inferred"} 0
shortcode_opt_outs_total{source="keyword"} 1
`, "shortcode_donation_funnel_total", "shortcode_donations_finished_total", "shortcode_donations_completed_cents_total", "shortcode_opt_outs_total")

		for _, c := range []struct {
			name string
			got  prometheus.Collector
			want float64
		}{
			{"applied MOs of demo", e.m.mos.WithLabelValues("demo", string(donation.MOApplied)), 15},
			{"duplicate MOs", e.m.mos.WithLabelValues(NoProgram, string(donation.MODuplicate)), 1},
			{"rejected MOs", e.m.mos.WithLabelValues(NoProgram, string(donation.MORejected)), 1},
			{"idle -> choosing_amount", e.m.transitions.WithLabelValues(string(donation.Idle), string(donation.ChoosingAmount)), 2},
			{"idle -> confirming", e.m.transitions.WithLabelValues(string(donation.Idle), string(donation.Confirming)), 4},
			{"verifying_pin -> charging", e.m.transitions.WithLabelValues(string(donation.VerifyingPIN), string(donation.Charging)), 3},
			{"charging -> idle", e.m.transitions.WithLabelValues(string(donation.Charging), string(donation.Idle)), 3},
			{"MTs queued", e.m.mts.WithLabelValues("queued"), 15},
			{"MTs sent", e.m.mts.WithLabelValues("sent"), 15},
			{"MT retries", e.m.mtRetries, 0},
			{"opt-ins", e.m.optIns, 0},
		} {
			if got := testutil.ToFloat64(c.got); got != c.want {
				t.Errorf("%s = %v, want %v", c.name, got, c.want)
			}
		}
		if n := testutil.CollectAndCount(e.m.chargeDuration); n != 2 {
			t.Errorf("charge_duration_seconds has %d series, want 2 (charged, unknown)", n)
		}

		// The sequencer integrates the four certifications.
		if _, err := e.log.Integrate(e.ctx); err != nil {
			t.Fatal(err)
		}
		if got := testutil.ToFloat64(e.m.logSize); got != 4 {
			t.Errorf("certlog_records = %v, want 4", got)
		}

		// A delivery status callback, and one in words we do not know.
		st := e.m.Deliveries(db)
		if err := st.RecordStatus(e.ctx, "SM00000000000000000000000000000001", donation.DeliveryDelivered, "", e.clock.Now()); err != nil {
			t.Fatal(err)
		}
		if err := st.RecordStatus(e.ctx, "SM00000000000000000000000000000002", "read", "", e.clock.Now()); err != nil {
			t.Fatal(err)
		}
		e.compare(`
# HELP shortcode_mt_deliveries_total Delivery status callbacks stored, by status.
# TYPE shortcode_mt_deliveries_total counter
shortcode_mt_deliveries_total{status="delivered"} 1
shortcode_mt_deliveries_total{status="unknown"} 1
`, "shortcode_mt_deliveries_total")

		lint(t, e.m)
		noPhoneLabels(t, e.m)
	})
}

// lint fails the test on any problem promlint finds in the metrics.
func lint(t *testing.T, m *Metrics) {
	t.Helper()
	problems, err := testutil.GatherAndLint(m.Gatherer())
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	for _, p := range problems {
		t.Errorf("promlint: %s: %s", p.Metric, p.Text)
	}
}

// phoneLike is a run of seven or more digits, once the separators a phone
// number may be written with are dropped.
var phoneLike = regexp.MustCompile(`[0-9]{7,}`)

// noPhoneLabels fails the test if any label value of any metric looks like
// a phone number.
func noPhoneLabels(t *testing.T, m *Metrics) {
	t.Helper()
	families, err := m.Gatherer().Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	strip := strings.NewReplacer("+", "", "-", "", " ", "", ".", "", "(", "", ")", "", "%2B", "")
	n := 0
	for _, f := range families {
		for _, metric := range f.GetMetric() {
			for _, l := range metric.GetLabel() {
				n++
				if v := l.GetValue(); phoneLike.MatchString(strip.Replace(v)) {
					t.Errorf("%s{%s=%q}: the label value looks like a phone number", f.GetName(), l.GetName(), v)
				}
			}
		}
	}
	if n == 0 {
		t.Error("no labels at all: nothing was checked")
	}
}

// TestServedMetrics scrapes GET /metrics through the HTTP server: the
// requests are counted by route template, never by the path requested.
func TestServedMetrics(t *testing.T) {
	m := New(nopStore{}, nil, nil)
	hs := httpserver.New(nil, nil, nil, "v-test")
	hs.Requests = m
	hs.Mount(m)
	hs.Route(http.MethodGet, "/donors/{phone}", nil, func(w http.ResponseWriter, r *http.Request) error { return nil })
	srv := httptest.NewServer(hs.Handler())
	defer srv.Close()
	for _, path := range []string{"/healthz", "/donors/+12125550100", "/donors/%2B12125550100", "/12125550100"} {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	resp, err := http.Get(srv.URL + Path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", Path, resp.Status)
	}
	if err := testutil.ScrapeAndCompare(srv.URL+Path, strings.NewReader(`
# HELP shortcode_http_requests_total HTTP requests answered, by route template (unmatched when none matched), method and status code.
# TYPE shortcode_http_requests_total counter
shortcode_http_requests_total{code="200",method="GET",route="/donors/{phone}"} 2
shortcode_http_requests_total{code="200",method="GET",route="/healthz"} 1
shortcode_http_requests_total{code="200",method="GET",route="/metrics"} 1
shortcode_http_requests_total{code="404",method="GET",route="unmatched"} 1
`), "shortcode_http_requests_total"); err != nil {
		t.Error(err)
	}
	for _, name := range []string{"go_goroutines", "process_cpu_seconds_total", "shortcode_outbox_depth"} {
		if n, err := testutil.GatherAndCount(m.Gatherer(), name); err != nil || n != 1 {
			t.Errorf("%s: %d series, %v; want 1", name, n, err)
		}
	}
	lint(t, m)
	noPhoneLabels(t, m)
}

// nopStore is an empty store.
type nopStore struct{}

func (nopStore) PendingCount(context.Context, time.Time) (int, error) { return 0, nil }
func (nopStore) OldestPendingMT(context.Context) (time.Time, error)   { return time.Time{}, nil }
func (nopStore) ChargeCounts(context.Context) (int, int, error)       { return 0, 0, nil }
