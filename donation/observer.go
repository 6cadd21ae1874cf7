package donation

import "time"

// Observer is told what the service did, for metrics. It is called from
// many goroutines, after the work it is told of, and must return quickly.
// It is told facts, never asked anything: what it makes of them changes
// nothing the service does.
type Observer interface {
	// MOHandled is told of each call of HandleMO: the program of the
	// conversation the MO belongs to ("" when there is none, or the MO was
	// not read that far), how it ended, and how long it took.
	MOHandled(program string, outcome MOOutcome, took time.Duration)
	// Stepped is told of each committed step (an MO, an expiry, a charge
	// outcome, an opt-out the gateway reported) with the subscriber's
	// state before it; the result holds the state after it.
	Stepped(from State, res Result)
	// ChargeCalled is told of each attempt at a charge: the carrier, what
	// the attempt learned (Charged, ChargeDeclined or Unknown), and how
	// long the carrier's calls took.
	ChargeCalled(carrier string, outcome Outcome, took time.Duration)
	// MTAttempted is told of each attempt to hand an MT to the gateway:
	// how it ended, and how long the MT had waited since it was queued.
	MTAttempted(outcome MTOutcome, waited time.Duration)
}

// MOOutcome is how HandleMO ended.
type MOOutcome string

const (
	// MOApplied: the MO and everything it caused are committed.
	MOApplied MOOutcome = "applied"
	// MODuplicate: the gateway had delivered the MO before; nothing changed.
	MODuplicate MOOutcome = "duplicate"
	// MORateLimited: the MO was recorded, not answered (SPEC §11).
	MORateLimited MOOutcome = "rate_limited"
	// MORejected: bad input, such as an invalid number or an unknown
	// short code; nothing changed.
	MORejected MOOutcome = "rejected"
	// MOFailed: nothing was committed (a storage failure, say); the
	// gateway is asked to deliver the MO again.
	MOFailed MOOutcome = "failed"
)

// MTOutcome is how one attempt to hand an MT to the gateway ended.
type MTOutcome string

const (
	// MTSent: the gateway took the MT, or was found to have taken it.
	MTSent MTOutcome = "sent"
	// MTRetry: the gateway did not take the MT, or may not have; it is
	// tried again later.
	MTRetry MTOutcome = "retry"
	// MTFailed: the gateway refused the MT for good (its number
	// unsubscribed, say).
	MTFailed MTOutcome = "failed"
)

// nopObserver observes nothing.
type nopObserver struct{}

func (nopObserver) MOHandled(string, MOOutcome, time.Duration)  {}
func (nopObserver) Stepped(State, Result)                       {}
func (nopObserver) ChargeCalled(string, Outcome, time.Duration) {}
func (nopObserver) MTAttempted(MTOutcome, time.Duration)        {}
