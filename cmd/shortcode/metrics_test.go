package main

import (
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// scrape reads GET /metrics: each series line, as written, with its value.
func scrape(t *testing.T, m *Main) map[string]float64 {
	t.Helper()
	resp, err := http.Get(m.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %s, %v", resp.Status, err)
	}
	series := map[string]float64{}
	for line := range strings.Lines(string(body)) {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("GET /metrics: line %q: %v", line, err)
		}
		series[line[:i]] = v
	}
	return series
}

var (
	labelValue = regexp.MustCompile(`[a-z_]+="((?:[^"\\]|\\.)*)"`)
	digits7    = regexp.MustCompile(`[0-9]{7,}`)
)

// TestMetricsEndpoint gives through the simulator and reads GET /metrics:
// the donation is counted at every step, the requests by route, and no
// label value looks like a phone number; promlint finds no problem.
func TestMetricsEndpoint(t *testing.T) {
	m := startMain(t, testDriver())
	give(t, m, "+12125550100", "10")
	(&donor{t: t, sim: m.Sim, phone: "+12125550101", to: "62262"}).say("STOP")

	want := map[string]float64{
		`shortcode_donation_funnel_total{program="demo",step="keyword"}`:                       1,
		`shortcode_donation_funnel_total{program="demo",step="amount"}`:                        1,
		`shortcode_donation_funnel_total{program="demo",step="yes"}`:                           1,
		`shortcode_donation_funnel_total{program="demo",step="pin"}`:                           1,
		`shortcode_donation_funnel_total{program="demo",step="charged"}`:                       1,
		`shortcode_donations_completed_cents_total{program="demo"}`:                            1000,
		`shortcode_donations_finished_total{program="demo",status="completed"}`:                1,
		`shortcode_mos_total{outcome="applied",program="demo"}`:                                3,
		`shortcode_mos_total{outcome="applied",program="none"}`:                                1, // a first STOP
		`shortcode_opt_outs_total{source="keyword"}`:                                           1,
		`shortcode_http_requests_total{code="200",method="POST",route="/gateways/twilio/sms"}`: 4,
		`shortcode_charge_duration_seconds_count{carrier="SimMobile",outcome="charged"}`:       1,
		`shortcode_certlog_records`:                                                            1,
		`shortcode_mt_delay_seconds_count`:                                                     4,
		`shortcode_outbox_depth`:                                                               0,
		`shortcode_charges_unknown`:                                                            0,
	}
	var got map[string]float64
	deadline := time.Now().Add(20 * time.Second)
	for {
		got = scrape(t, m)
		missing := 0
		for k, v := range want {
			if got[k] != v {
				missing++
			}
		}
		if missing == 0 {
			break
		}
		if time.Now().After(deadline) {
			for k, v := range want {
				if got[k] != v {
					t.Errorf("%s = %v, want %v", k, got[k], v)
				}
			}
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, name := range []string{"go_goroutines", "process_resident_memory_bytes", "shortcode_outbox_oldest_age_seconds"} {
		if _, ok := got[name]; !ok {
			t.Errorf("no %s", name)
		}
	}
	for series := range got {
		for _, l := range labelValue.FindAllStringSubmatch(series, -1) {
			if digits7.MatchString(strings.NewReplacer("+", "", "-", "", " ", "").Replace(l[1])) {
				t.Errorf("%s: a label value looks like a phone number", series)
			}
		}
	}
	problems, err := testutil.GatherAndLint(m.Metrics.Gatherer())
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("promlint: %s: %s", p.Metric, p.Text)
	}
}
