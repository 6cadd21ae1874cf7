package loadtest_test

import (
	"encoding/json"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/shortcode/shortcode/carrier/loadtest"
)

func ms(n ...int) []time.Duration {
	out := make([]time.Duration, len(n))
	for i, v := range n {
		out[i] = time.Duration(v) * time.Millisecond
	}
	return out
}

// TestPercentile: nearest rank, the smallest value with at least p percent
// of the values at or below it.
func TestPercentile(t *testing.T) {
	hundred := make([]int, 100)
	for i := range hundred {
		hundred[i] = i + 1
	}
	for _, tc := range []struct {
		name string
		ds   []time.Duration
		p    float64
		want time.Duration
	}{
		{"none", nil, 50, 0},
		{"one", ms(7), 99, 7 * time.Millisecond},
		{"one, p0", ms(7), 0, 7 * time.Millisecond},
		{"median of odd", ms(1, 2, 3), 50, 2 * time.Millisecond},
		{"median of even is the lower", ms(1, 2, 3, 4), 50, 2 * time.Millisecond},
		{"p99 of 100", ms(hundred...), 99, 99 * time.Millisecond},
		{"p95 of 100", ms(hundred...), 95, 95 * time.Millisecond},
		{"p100 is the max", ms(hundred...), 100, 100 * time.Millisecond},
		{"p99 of 10 is the max", ms(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), 99, 10 * time.Millisecond},
		{"p90 of 10", ms(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), 90, 9 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := loadtest.Percentile(tc.ds, tc.p); got != tc.want {
				t.Errorf("Percentile(%v, %v) = %v, want %v", tc.ds, tc.p, got, tc.want)
			}
		})
	}
}

func TestSummarize(t *testing.T) {
	l := loadtest.Summarize(ms(30, 10, 20, 40))
	want := loadtest.Latency{Count: 4, Total: 100 * time.Millisecond, Mean: 25 * time.Millisecond, Min: 10 * time.Millisecond,
		P50: 20 * time.Millisecond, P90: 40 * time.Millisecond, P95: 40 * time.Millisecond, P99: 40 * time.Millisecond, Max: 40 * time.Millisecond}
	if l != want {
		t.Errorf("Summarize = %+v, want %+v", l, want)
	}
	b, _ := json.Marshal(l)
	if string(b) != `{"count":4,"mean_ms":25,"p50_ms":20,"p95_ms":40,"p99_ms":40,"max_ms":40}` {
		t.Errorf("as JSON: %s", b)
	}
	if (loadtest.Summarize(nil) != loadtest.Latency{}) {
		t.Error("the summary of nothing is not zero")
	}
}

// TestVegetaReport: the report has vegeta's JSON field names, durations in
// nanoseconds, and its sums.
func TestVegetaReport(t *testing.T) {
	at := time.Date(2027, 3, 14, 15, 0, 0, 0, time.UTC)
	as := []loadtest.Attempt{
		{At: at, Latency: 10 * time.Millisecond, Status: 200, BytesIn: 50, BytesOut: 300},
		{At: at.Add(time.Second), Latency: 30 * time.Millisecond, Status: 503, BytesIn: 10, BytesOut: 300},
		{At: at.Add(2 * time.Second), Latency: 20 * time.Millisecond, Err: errors.New("connection refused")},
		{At: at.Add(2 * time.Second), Latency: 40 * time.Millisecond, Status: 200, BytesIn: 50, BytesOut: 300},
	}
	b, err := json.Marshal(loadtest.VegetaReport(as))
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	var keys []string
	for k := range got {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	want := []string{"bytes_in", "bytes_out", "duration", "earliest", "end", "errors", "latencies", "latest", "rate", "requests",
		"status_codes", "success", "throughput", "wait"}
	if !slices.Equal(keys, want) {
		t.Errorf("fields %v, want vegeta's %v", keys, want)
	}
	lat := got["latencies"].(map[string]any)
	for k, v := range map[string]float64{"total": 100e6, "mean": 25e6, "50th": 20e6, "90th": 40e6, "95th": 40e6, "99th": 40e6, "max": 40e6, "min": 10e6} {
		if lat[k] != v {
			t.Errorf("latencies.%s = %v, want %v ns", k, lat[k], v)
		}
	}
	for k, v := range map[string]any{"requests": 4.0, "duration": 2e9, "wait": 40e6, "rate": 2.0, "success": 0.5,
		"throughput": 2 / 2.04, "earliest": "2027-03-14T15:00:00Z", "end": "2027-03-14T15:00:02.04Z"} {
		if got[k] != v {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}
	if sc := got["status_codes"].(map[string]any); sc["200"] != 2.0 || sc["503"] != 1.0 || sc["0"] != 1.0 {
		t.Errorf("status_codes = %v", sc)
	}
	if bi := got["bytes_in"].(map[string]any); bi["total"] != 110.0 || bi["mean"] != 27.5 {
		t.Errorf("bytes_in = %v", bi)
	}
	if es := got["errors"].([]any); len(es) != 1 || es[0] != "connection refused" {
		t.Errorf("errors = %v", es)
	}
}
