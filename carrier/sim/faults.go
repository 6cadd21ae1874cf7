package sim

import (
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"net/http"
	"time"

	"github.com/shortcode/shortcode/carrier/twilio"
)

// Faults are the simulator's misbehaviour knobs (SPEC §12.3). They apply
// to the carrier endpoints (OneAPI and lookup) and to MO delivery, and the
// Messages ones to the Twilio Messages API. The zero value is a
// well-behaved simulator.
type Faults struct {
	// Latency delays every answer of the carrier endpoints.
	Latency time.Duration
	// TimeoutRate is the fraction of carrier requests (charges, refunds,
	// status queries, lists, lookups) that time out: they are held for
	// Config.Timeout, then the connection is dropped without an answer.
	// Half of the charges and refunds that time out (a coin flip) are
	// applied before the connection drops; the other half are not.
	TimeoutRate float64
	// ErrorRate is the fraction of carrier requests answered 500 without
	// applying anything.
	ErrorRate float64
	// DuplicateRate is the fraction of phone MOs delivered twice (the same
	// MessageSid and signature), as a gateway retry would.
	DuplicateRate float64
	// MessagesLatency holds the answer to each MT the Messages API takes
	// for this long after taking it: a slow gateway, whose client may time
	// out or die before it learns that the MT was taken.
	MessagesLatency time.Duration
	// MessagesTooManyRate, MessagesUnavailableRate and MessagesTimeoutRate
	// are the fractions of MT sends the Messages API refuses, without
	// taking the MT: 429 with Twilio's code 20429, 503, or held for
	// Config.Timeout and then dropped without an answer.
	MessagesTooManyRate, MessagesUnavailableRate, MessagesTimeoutRate float64
}

// clamped returns f with its rates in 0..1 and a non-negative latency.
func (f Faults) clamped() Faults {
	rate := func(r float64) float64 {
		if math.IsNaN(r) {
			return 0
		}
		return min(max(r, 0), 1)
	}
	return Faults{
		Latency:         max(f.Latency, 0),
		MessagesLatency: max(f.MessagesLatency, 0),
		TimeoutRate:     rate(f.TimeoutRate),
		ErrorRate:       rate(f.ErrorRate),
		DuplicateRate:   rate(f.DuplicateRate),

		MessagesTooManyRate:     rate(f.MessagesTooManyRate),
		MessagesUnavailableRate: rate(f.MessagesUnavailableRate),
		MessagesTimeoutRate:     rate(f.MessagesTimeoutRate),
	}
}

// SetFaults replaces the fault knobs; they take effect on the next request.
// Rates are clamped to 0..1 and a negative latency to 0.
func (s *Sim) SetFaults(f Faults) {
	s.fmu.Lock()
	defer s.fmu.Unlock()
	s.faults = f.clamped()
}

// Faults returns the fault knobs in effect.
func (s *Sim) Faults() Faults {
	s.fmu.Lock()
	defer s.fmu.Unlock()
	return s.faults
}

// fate is what the fault knobs do to one carrier request.
type fate int

const (
	fateAnswer        fate = iota // no fault: process and answer
	fateError                     // answer 500, apply nothing
	fateDrop                      // time out, apply nothing
	fateApplyThenDrop             // time out after applying (charges, refunds)
)

// roll draws the fate of a carrier request from the seeded source.
func (s *Sim) roll() fate {
	s.fmu.Lock()
	defer s.fmu.Unlock()
	u, heads := s.rng.Float64(), s.rng.IntN(2) == 0
	switch {
	case u < s.faults.TimeoutRate && heads:
		return fateApplyThenDrop
	case u < s.faults.TimeoutRate:
		return fateDrop
	case u < s.faults.TimeoutRate+s.faults.ErrorRate:
		return fateError
	}
	return fateAnswer
}

// Refusals of the Messages API, by the fault that made them.
const (
	RefusedTooMany     = "429"
	RefusedUnavailable = "503"
	RefusedTimeout     = "timeout"
)

// refuseMT draws whether the Messages API refuses an MT send, and how
// (one of the Refused kinds, or ""), and counts the refusal.
func (s *Sim) refuseMT() string {
	s.fmu.Lock()
	defer s.fmu.Unlock()
	f := s.faults
	if f.MessagesTooManyRate+f.MessagesUnavailableRate+f.MessagesTimeoutRate == 0 {
		return ""
	}
	u, kind := s.rng.Float64(), ""
	switch {
	case u < f.MessagesTooManyRate:
		kind = RefusedTooMany
	case u < f.MessagesTooManyRate+f.MessagesUnavailableRate:
		kind = RefusedUnavailable
	case u < f.MessagesTooManyRate+f.MessagesUnavailableRate+f.MessagesTimeoutRate:
		kind = RefusedTimeout
	default:
		return ""
	}
	if s.refused == nil {
		s.refused = map[string]int{}
	}
	s.refused[kind]++
	return kind
}

// RefusedMTs counts the MT sends the Messages API refused, by kind.
func (s *Sim) RefusedMTs() map[string]int {
	s.fmu.Lock()
	defer s.fmu.Unlock()
	return maps.Clone(s.refused)
}

// duplicate tells, by DuplicateRate, whether to deliver an MO twice.
func (s *Sim) duplicate() bool {
	s.fmu.Lock()
	defer s.fmu.Unlock()
	return s.faults.DuplicateRate > 0 && s.rng.Float64() < s.faults.DuplicateRate
}

// hangUp holds a request for Config.Timeout (less if the client goes away
// or the simulator is closed), then closes its connection without an
// answer, as a carrier that timed out would.
func (s *Sim) hangUp(w http.ResponseWriter, r *http.Request) {
	t := time.NewTimer(s.cfg.Timeout)
	defer t.Stop()
	select {
	case <-t.C:
	case <-r.Context().Done():
	case <-s.ctx.Done():
	}
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		// Not hijackable (HTTP/2): abort the stream, which the server
		// recovers from without answering.
		panic(http.ErrAbortHandler)
	}
	conn.Close()
}

// faultsJSON is the wire form of Faults at /sim/faults.
type faultsJSON struct {
	Latency         string  `json:"latency"` // a Go duration, "250ms"
	TimeoutRate     float64 `json:"timeout_rate"`
	ErrorRate       float64 `json:"error_rate"`
	DuplicateRate   float64 `json:"duplicate_rate"`
	MessagesLatency string  `json:"messages_latency,omitempty"` // a Go duration

	MessagesTooManyRate     float64 `json:"messages_too_many_rate,omitempty"`
	MessagesUnavailableRate float64 `json:"messages_unavailable_rate,omitempty"`
	MessagesTimeoutRate     float64 `json:"messages_timeout_rate,omitempty"`
}

// serveFaults answers the fault knobs (GET), or replaces them (POST, the
// same JSON; fields left out are zero) and answers the new ones.
func (s *Sim) serveFaults(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodPost {
		var in faultsJSON
		dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBodyBytes))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&in); err != nil {
			twilio.WriteJSON(w, http.StatusBadRequest, simError{"body is not a faults object: " + err.Error()})
			return
		}
		f, err := in.faults()
		if err != nil {
			twilio.WriteJSON(w, http.StatusBadRequest, simError{err.Error()})
			return
		}
		s.SetFaults(f)
	}
	f := s.Faults()
	ml := ""
	if f.MessagesLatency > 0 {
		ml = f.MessagesLatency.String()
	}
	twilio.WriteJSON(w, http.StatusOK, faultsJSON{
		Latency:         f.Latency.String(),
		TimeoutRate:     f.TimeoutRate,
		ErrorRate:       f.ErrorRate,
		DuplicateRate:   f.DuplicateRate,
		MessagesLatency: ml,

		MessagesTooManyRate:     f.MessagesTooManyRate,
		MessagesUnavailableRate: f.MessagesUnavailableRate,
		MessagesTimeoutRate:     f.MessagesTimeoutRate,
	})
}

// faults validates the wire form.
func (in faultsJSON) faults() (Faults, error) {
	var f Faults
	if in.Latency != "" {
		d, err := time.ParseDuration(in.Latency)
		if err != nil || d < 0 {
			return f, fmt.Errorf("latency %q is not a non-negative duration like \"250ms\"", in.Latency)
		}
		f.Latency = d
	}
	if in.MessagesLatency != "" {
		d, err := time.ParseDuration(in.MessagesLatency)
		if err != nil || d < 0 {
			return f, fmt.Errorf("messages_latency %q is not a non-negative duration like \"250ms\"", in.MessagesLatency)
		}
		f.MessagesLatency = d
	}
	for _, r := range []struct {
		name string
		v    float64
	}{{"timeout_rate", in.TimeoutRate}, {"error_rate", in.ErrorRate}, {"duplicate_rate", in.DuplicateRate},
		{"messages_too_many_rate", in.MessagesTooManyRate}, {"messages_unavailable_rate", in.MessagesUnavailableRate},
		{"messages_timeout_rate", in.MessagesTimeoutRate}} {
		if !(r.v >= 0 && r.v <= 1) {
			return f, fmt.Errorf("%s %v is not between 0 and 1", r.name, r.v)
		}
	}
	f.TimeoutRate, f.ErrorRate, f.DuplicateRate = in.TimeoutRate, in.ErrorRate, in.DuplicateRate
	f.MessagesTooManyRate, f.MessagesUnavailableRate = in.MessagesTooManyRate, in.MessagesUnavailableRate
	f.MessagesTimeoutRate = in.MessagesTimeoutRate
	return f, nil
}
