package loadtest

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net"
	"slices"
	"strconv"
	"sync"
	"time"
)

// Latency summarises durations: their count, mean, percentiles (nearest
// rank) and extremes.
type Latency struct {
	Count                                     int
	Mean, Min, P50, P90, P95, P99, Max, Total time.Duration
}

// Summarize returns the summary of ds, which it sorts.
func Summarize(ds []time.Duration) Latency {
	if len(ds) == 0 {
		return Latency{}
	}
	slices.Sort(ds)
	var total time.Duration
	for _, d := range ds {
		total += d
	}
	return Latency{Count: len(ds), Total: total, Mean: total / time.Duration(len(ds)), Min: ds[0],
		P50: Percentile(ds, 50), P90: Percentile(ds, 90), P95: Percentile(ds, 95), P99: Percentile(ds, 99), Max: ds[len(ds)-1]}
}

// Percentile returns the p-th percentile of sorted by nearest rank: the
// smallest value with at least p percent of the values at or below it;
// 0 for no values.
func Percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	return sorted[min(max(rank, 1), len(sorted))-1]
}

// latencyJSON is a Latency in milliseconds, for --json.
type latencyJSON struct {
	Count int     `json:"count"`
	Mean  float64 `json:"mean_ms"`
	P50   float64 `json:"p50_ms"`
	P95   float64 `json:"p95_ms"`
	P99   float64 `json:"p99_ms"`
	Max   float64 `json:"max_ms"`
}

// MarshalJSON shows the latencies in milliseconds.
func (l Latency) MarshalJSON() ([]byte, error) {
	return json.Marshal(latencyJSON{l.Count, ms(l.Mean), ms(l.P50), ms(l.P95), ms(l.P99), ms(l.Max)})
}

func ms(d time.Duration) float64 { return math.Round(float64(d)/float64(time.Microsecond)) / 1000 }

// Error kinds counted in Result.Errors besides "webhook_<status>", a
// webhook answer that is not 2xx.
const (
	ErrWebhookTimeout    = "webhook_timeout"    // no answer within the client's timeout
	ErrWebhookConnection = "webhook_connection" // the post failed otherwise
	ErrUndelivered       = "mo_not_taken"       // the webhook never took an MO: the conversation ends
	ErrReplyTimeout      = "reply_timeout"      // no reply within --timeout
	ErrUnexpected        = "unexpected_text"    // a reply that is not the one the conversation expects
	ErrNotFinished       = "not_finished"       // a conversation cut off at the end of the run
	ErrNoNumbers         = "numbers_exhausted"  // the run's block of numbers is used up
	ErrOpenLimit         = "open_limit"         // open loop: a conversation not started, too many in flight
)

// webhookKind is the error kind of a post that failed, or "".
func webhookKind(a Attempt) string {
	var ne net.Error
	switch {
	case a.Err != nil && errors.As(a.Err, &ne) && ne.Timeout():
		return ErrWebhookTimeout
	case a.Err != nil:
		return ErrWebhookConnection
	case a.Status < 200 || a.Status > 299:
		return "webhook_" + strconv.Itoa(a.Status)
	}
	return ""
}

// recorder collects what a run measures. Its methods are safe for
// concurrent use.
type recorder struct {
	mu          sync.Mutex
	attempts    []Attempt       // every post of an MO
	replies     []time.Duration // MO -> its reply
	mos         int             // MOs the webhook took
	mosInWindow int             // of those, sent before the deadline
	started     int
	completed   int
	doneInWin   int
	failed      int
	errors      map[string]int
	unexpected  []string // the first few unexpected texts
	convs       []Conversation
}

func newRecorder() *recorder { return &recorder{errors: map[string]int{}} }

func (r *recorder) attempt(as []Attempt, inWindow bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.attempts = append(r.attempts, as...)
	for _, a := range as {
		if k := webhookKind(a); k != "" {
			r.errors[k]++
		}
	}
	if as[len(as)-1].ok() {
		r.mos++
		if inWindow {
			r.mosInWindow++
		}
	}
}

func (r *recorder) reply(d time.Duration) {
	r.mu.Lock()
	r.replies = append(r.replies, d)
	r.mu.Unlock()
}

func (r *recorder) fail(kind string) {
	r.mu.Lock()
	r.errors[kind]++
	r.mu.Unlock()
}

// maxUnexpected bounds the unexpected texts kept to show.
const maxUnexpected = 5

func (r *recorder) unexpectedText(step, body string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errors[ErrUnexpected]++
	if len(r.unexpected) < maxUnexpected {
		r.unexpected = append(r.unexpected, fmt.Sprintf("after the %s: %q", step, body))
	}
}

func (r *recorder) start() {
	r.mu.Lock()
	r.started++
	r.mu.Unlock()
}

func (r *recorder) end(c Conversation, inWindow bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if c.Completed {
		r.completed++
		if inWindow {
			r.doneInWin++
		}
	} else {
		r.failed++
	}
	r.convs = append(r.convs, c)
}

// progress is a snapshot for the progress line.
type progress struct {
	mos, completed, failed, errors int
	replyP99                       time.Duration
}

func (r *recorder) snapshot(recent int) progress {
	r.mu.Lock()
	defer r.mu.Unlock()
	p := progress{mos: r.mos, completed: r.completed, failed: r.failed}
	for _, n := range r.errors {
		p.errors += n
	}
	if n := len(r.replies); n > 0 {
		last := slices.Clone(r.replies[max(0, n-recent):])
		slices.Sort(last)
		p.replyP99 = Percentile(last, 99)
	}
	return p
}
