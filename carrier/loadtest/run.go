// Package loadtest drives a running `shortcode serve` with virtual donors
// who have whole conversations with a program (SPEC §4.2) while it plays
// the messaging gateway (SPEC §12.1): MOs go in as signed webhooks, as the
// simulator's phones send them, and MTs come out through its own
// Twilio-compatible Messages API, which serve is pointed at with
// --twilio-api-url. It measures the webhook's answers and each MO's wait
// for its reply, and afterwards checks SPEC §10's invariants 1 to 3 over
// the run's donations, through the operator API and the carrier
// simulator's ledger (Check).
package loadtest

import (
	"context"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/shortcode/shortcode/compliance"
)

// Config is one load run.
type Config struct {
	Webhook *Webhook
	Gateway *Gateway
	Script  *Script
	Numbers *Numbers
	// Donors is the closed loop: that many donors, each answering as soon
	// as its reply arrives and starting again when done. Rate, when
	// Donors is zero, is the open loop: conversations are started to
	// hold Rate MOs a second, whatever the replies' pace, with at most
	// MaxOpen in flight.
	Donors  int
	Rate    float64
	MaxOpen int
	// Duration is how long conversations are started; Drain how long
	// those in flight then have to finish. Timeout bounds each wait for
	// a reply.
	Duration, Drain, Timeout time.Duration
	// Progress, when not nil, gets a progress line every second.
	Progress io.Writer
}

// Conversation is one donor's conversation, as the check needs it.
type Conversation struct {
	Phone     string
	Amount    int64 // cents
	Started   time.Time
	Yes       []string // the MessageSids of the YES texts
	PINSid    string   // the MessageSid of the text that carried the PIN
	PIN       string
	Completed bool // the receipt came
}

// Result is what a run measured.
type Result struct {
	Mode     string        `json:"mode"` // "closed" or "open"
	Donors   int           `json:"donors,omitempty"`
	Rate     float64       `json:"rate,omitempty"`
	Duration time.Duration `json:"-"`
	Elapsed  time.Duration `json:"-"` // with the drain
	// The same in seconds, for --json.
	DurationSeconds float64 `json:"duration_seconds"`
	ElapsedSeconds  float64 `json:"elapsed_seconds"`
	Numbers         string  `json:"numbers"` // the block, +1NPANXXxxxx

	MOs                    int     `json:"mos"`
	MOsPerSecond           float64 `json:"mos_per_second"`
	MTs                    int     `json:"mts"`
	Started                int     `json:"conversations_started"`
	Completed              int     `json:"conversations_completed"`
	Failed                 int     `json:"conversations_failed"`
	ConversationsPerSecond float64 `json:"conversations_per_second"`

	Webhook Latency        `json:"webhook_latency"` // every post of an MO, to its answer
	Reply   Latency        `json:"reply_latency"`   // an MO's first post to its reply at the gateway
	Errors  map[string]int `json:"errors"`          // by kind
	Samples []string       `json:"unexpected_texts,omitempty"`

	Invariants *Report `json:"invariants,omitempty"`

	Attempts      []Attempt      `json:"-"` // every post, for the vegeta report
	Conversations []Conversation `json:"-"`
}

// Run runs cfg until its duration and drain are over, or ctx ends.
func Run(ctx context.Context, cfg Config) *Result {
	rec := newRecorder()
	began := time.Now()
	deadline := began.Add(cfg.Duration)
	// Conversations in flight at the deadline may finish during the drain;
	// hard ends them all.
	hard, cancel := context.WithDeadline(ctx, deadline.Add(cfg.Drain))
	defer cancel()
	soft, cancelSoft := context.WithDeadline(hard, deadline)
	defer cancelSoft()

	var stop func()
	if cfg.Progress != nil {
		stop = showProgress(cfg.Progress, rec, began, cfg.Duration)
	}
	r := &runner{cfg: cfg, rec: rec, deadline: deadline}
	res := &Result{Numbers: cfg.Numbers.Prefix() + "xxxx", Duration: cfg.Duration}
	if cfg.Donors > 0 {
		res.Mode, res.Donors = "closed", cfg.Donors
		r.closed(soft, hard)
	} else {
		res.Mode, res.Rate = "open", cfg.Rate
		r.open(soft, hard)
	}
	if stop != nil {
		stop()
	}
	res.Elapsed = time.Since(began)
	res.DurationSeconds, res.ElapsedSeconds = cfg.Duration.Seconds(), res.Elapsed.Seconds()

	rec.mu.Lock()
	defer rec.mu.Unlock()
	secs := min(cfg.Duration, res.Elapsed).Seconds()
	res.MOs, res.MTs = rec.mos, cfg.Gateway.Taken()
	res.MOsPerSecond = float64(rec.mosInWindow) / secs
	res.Started, res.Completed, res.Failed = rec.started, rec.completed, rec.failed
	res.ConversationsPerSecond = float64(rec.doneInWin) / secs
	lats := make([]time.Duration, len(rec.attempts))
	for i, a := range rec.attempts {
		lats[i] = a.Latency
	}
	res.Webhook, res.Reply = Summarize(lats), Summarize(rec.replies)
	res.Errors, res.Samples = rec.errors, rec.unexpected
	res.Attempts, res.Conversations = rec.attempts, rec.convs
	return res
}

type runner struct {
	cfg      Config
	rec      *recorder
	deadline time.Time
}

// closed runs the donors of the closed loop until soft ends.
func (r *runner) closed(soft, hard context.Context) {
	var wg sync.WaitGroup
	for range r.cfg.Donors {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for soft.Err() == nil {
				if !r.conversation(hard) {
					return
				}
			}
		}()
	}
	wg.Wait()
}

// open starts conversations at the rate that holds cfg.Rate MOs a second,
// each on time whatever became of the others, until soft ends.
func (r *runner) open(soft, hard context.Context) {
	every := time.Duration(float64(time.Second) * float64(r.cfg.Script.MOs()) / r.cfg.Rate)
	var wg sync.WaitGroup
	var inFlight atomic.Int64
	start := time.Now()
	for i := 0; ; i++ {
		at := start.Add(time.Duration(i) * every)
		t := time.NewTimer(time.Until(at))
		select {
		case <-soft.Done():
			t.Stop()
			wg.Wait()
			return
		case <-t.C:
		}
		if r.cfg.MaxOpen > 0 && inFlight.Load() >= int64(r.cfg.MaxOpen) {
			r.rec.fail(ErrOpenLimit)
			continue
		}
		inFlight.Add(1)
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer inFlight.Add(-1)
			r.conversation(hard)
		}()
	}
}

// conversation has one conversation on a number from the block; it returns
// false when the block is used up.
func (r *runner) conversation(ctx context.Context) bool {
	phone, seen, ok := r.cfg.Numbers.take()
	if !ok {
		r.rec.fail(ErrNoNumbers)
		return false
	}
	s := r.cfg.Script
	c := Conversation{Phone: phone, Amount: s.Amount, Started: time.Now()}
	r.rec.start()
	inWindow := func() bool { return time.Now().Before(r.deadline) }
	body := s.first()
	ok = true
	for _, st := range s.steps {
		sid, as := r.cfg.Webhook.Send(ctx, phone, s.Program.ShortCode, body)
		sent := as[0].At
		r.rec.attempt(as, sent.Before(r.deadline))
		// Kept before the answer is looked at: a text whose answer was
		// lost (a timeout, a 5xx after the commit) may have been taken.
		switch st.name {
		case "yes", "certify":
			c.Yes = append(c.Yes, sid)
		case "pin":
			c.PINSid = sid
		}
		if !as[len(as)-1].ok() {
			ok = false
			if ctx.Err() != nil {
				r.rec.fail(ErrNotFinished)
			} else {
				r.rec.fail(ErrUndelivered)
			}
			break
		}
		wait, cancel := context.WithTimeout(ctx, r.cfg.Timeout)
		mt, err := r.cfg.Gateway.Next(wait, phone, seen)
		cancel()
		if err != nil {
			ok = false
			if ctx.Err() != nil {
				r.rec.fail(ErrNotFinished)
			} else {
				r.rec.fail(ErrReplyTimeout)
			}
			break
		}
		seen++
		r.rec.reply(mt.At.Sub(sent))
		m := st.reply.FindStringSubmatch(mt.Body)
		if m == nil {
			ok = false
			r.rec.unexpectedText(st.name, compliance.MaskPhones(mt.Body))
			break
		}
		if len(m) > 1 {
			c.PIN, body = m[1], m[1]
		} else {
			body = "YES"
		}
	}
	c.Completed = ok
	r.cfg.Numbers.release(phone, seen, ok)
	r.rec.end(c, inWindow())
	return true
}

// showProgress writes a progress line every second until the returned
// function is called.
func showProgress(w io.Writer, rec *recorder, began time.Time, d time.Duration) func() {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(time.Second)
		defer t.Stop()
		last := 0
		for {
			select {
			case <-done:
				fmt.Fprintln(w)
				return
			case <-t.C:
			}
			p := rec.snapshot(1000)
			el := time.Since(began).Truncate(time.Second)
			fmt.Fprintf(w, "\r%v/%v  MOs %d (%d/s)  conversations %d done, %d failed  reply p99 %v  errors %d   ",
				el, d, p.mos, p.mos-last, p.completed, p.failed, p.replyP99.Round(time.Millisecond), p.errors)
			last = p.mos
		}
	}()
	return func() { close(done); wg.Wait() }
}
