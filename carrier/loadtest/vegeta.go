package loadtest

import (
	"slices"
	"strconv"
	"time"
)

// Vegeta is the webhook's answers in the shape of vegeta's JSON report
// (`vegeta report -type=json`), so that tools that read vegeta's results
// read these: durations in nanoseconds, each post of an MO one request.
type Vegeta struct {
	Latencies struct {
		Total time.Duration `json:"total"`
		Mean  time.Duration `json:"mean"`
		P50   time.Duration `json:"50th"`
		P90   time.Duration `json:"90th"`
		P95   time.Duration `json:"95th"`
		P99   time.Duration `json:"99th"`
		Max   time.Duration `json:"max"`
		Min   time.Duration `json:"min"`
	} `json:"latencies"`
	BytesIn     vegetaBytes    `json:"bytes_in"`
	BytesOut    vegetaBytes    `json:"bytes_out"`
	Earliest    time.Time      `json:"earliest"`
	Latest      time.Time      `json:"latest"`
	End         time.Time      `json:"end"`
	Duration    time.Duration  `json:"duration"` // from the first request to the last
	Wait        time.Duration  `json:"wait"`     // from the last request to its answer
	Requests    uint64         `json:"requests"`
	Rate        float64        `json:"rate"`       // requests a second over Duration
	Throughput  float64        `json:"throughput"` // successful requests a second over Duration + Wait
	Success     float64        `json:"success"`    // the share of 2xx and 3xx answers
	StatusCodes map[string]int `json:"status_codes"`
	Errors      []string       `json:"errors"`
}

type vegetaBytes struct {
	Total uint64  `json:"total"`
	Mean  float64 `json:"mean"`
}

// VegetaReport summarises the posts as vegeta does.
func VegetaReport(as []Attempt) Vegeta {
	v := Vegeta{StatusCodes: map[string]int{}, Errors: []string{}}
	if len(as) == 0 {
		return v
	}
	lats := make([]time.Duration, len(as))
	var ok uint64
	seen := map[string]bool{}
	for i, a := range as {
		lats[i] = a.Latency
		v.Requests++
		v.StatusCodes[strconv.Itoa(a.Status)]++
		v.BytesIn.Total += uint64(a.BytesIn)
		v.BytesOut.Total += uint64(a.BytesOut)
		if v.Earliest.IsZero() || a.At.Before(v.Earliest) {
			v.Earliest = a.At
		}
		if a.At.After(v.Latest) {
			v.Latest = a.At
		}
		if end := a.At.Add(a.Latency); end.After(v.End) {
			v.End = end
		}
		if a.Err == nil && a.Status >= 200 && a.Status < 400 {
			ok++
		}
		if a.Err != nil && !seen[a.Err.Error()] {
			seen[a.Err.Error()] = true
			v.Errors = append(v.Errors, a.Err.Error())
		}
	}
	l := Summarize(slices.Clone(lats))
	v.Latencies.Total, v.Latencies.Mean, v.Latencies.Min, v.Latencies.Max = l.Total, l.Mean, l.Min, l.Max
	v.Latencies.P50, v.Latencies.P90, v.Latencies.P95, v.Latencies.P99 = l.P50, l.P90, l.P95, l.P99
	n := float64(v.Requests)
	v.BytesIn.Mean, v.BytesOut.Mean = float64(v.BytesIn.Total)/n, float64(v.BytesOut.Total)/n
	v.Duration, v.Wait = v.Latest.Sub(v.Earliest), v.End.Sub(v.Latest)
	if s := v.Duration.Seconds(); s > 0 {
		v.Rate = n / s
	}
	if s := (v.Duration + v.Wait).Seconds(); s > 0 {
		v.Throughput = float64(ok) / s
	}
	v.Success = float64(ok) / n
	return v
}
