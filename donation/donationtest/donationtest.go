// Package donationtest provides test fakes of what the donation service
// and its adapters talk to: a clock, a carrier, and the sinks a gateway's
// webhook hands MOs and delivery statuses to. All are safe for concurrent
// use.
package donationtest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/shortcode/shortcode/donation"
)

// Clock is a donation.Clock that stands still until it is moved.
type Clock struct {
	// Tick, when not zero, moves the clock on by Tick before each
	// reading, so that no two readings are equal.
	Tick time.Duration

	mu  sync.Mutex
	now time.Time
}

// NewClock returns a clock reading t.
func NewClock(t time.Time) *Clock { return &Clock{now: t} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(c.Tick)
	return c.now
}

// Set moves the clock to t.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

// Advance moves the clock on by d (back, when d is negative).
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// DefaultCarrier is the name of a Carrier whose Name is empty.
const DefaultCarrier = "TestTel"

// Carrier is one carrier's billing (donation.Carriers and donation.Biller):
// it charges, and refunds, what it is asked to unless told otherwise. Like a
// real carrier it keeps its charges by correlator, so that a correlator
// asked again is not charged twice.
type Carrier struct {
	// Name is the carrier's name, DefaultCarrier when empty; Biller and
	// Fees know no other.
	Name string
	// Schedule is the carrier's fee schedule.
	Schedule donation.Fees

	mu      sync.Mutex
	decline bool
	unknown int
	calls   int
	charges map[string]donation.ChargeRequest // by correlator
	refunds map[string]donation.RefundRequest // by correlator
}

// DeclineNext makes the next charge a decline (POL1001).
func (c *Carrier) DeclineNext() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.decline = true
}

// LoseNext makes the next n charge calls fail with an unknown outcome, as a
// timeout would, without charging.
func (c *Carrier) LoseNext(n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.unknown = n
}

// Charge charges req unless told otherwise.
func (c *Carrier) Charge(_ context.Context, req donation.ChargeRequest) (donation.ChargeResult, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls++
	if c.unknown > 0 {
		c.unknown--
		return donation.ChargeResult{}, errors.New("timeout")
	}
	if c.decline {
		c.decline = false
		return donation.ChargeResult{Outcome: donation.ChargeDeclined, Reason: "POL1001 spending limit exceeded"}, nil
	}
	if prev, ok := c.charges[req.Correlator]; ok && prev.DonationID != req.DonationID {
		return donation.ChargeResult{}, fmt.Errorf("correlator %s reused", req.Correlator)
	}
	if c.charges == nil {
		c.charges = map[string]donation.ChargeRequest{}
	}
	c.charges[req.Correlator] = req
	return donation.ChargeResult{Outcome: donation.Charged, ServerRef: "SRV-" + req.DonationID}, nil
}

// Status finds a charge by its donation, as a carrier's transaction list
// would.
func (c *Carrier) Status(_ context.Context, req donation.ChargeRequest) (donation.ChargeResult, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, r := range c.charges {
		if r.DonationID == req.DonationID {
			return donation.ChargeResult{Outcome: donation.Charged, ServerRef: "SRV-" + r.DonationID}, nil
		}
	}
	return donation.ChargeResult{Outcome: donation.NotCharged}, nil
}

// Refund refunds req.
func (c *Carrier) Refund(_ context.Context, req donation.RefundRequest) (donation.RefundResult, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.refunds == nil {
		c.refunds = map[string]donation.RefundRequest{}
	}
	c.refunds[req.Correlator] = req
	return donation.RefundResult{Outcome: donation.Charged, ServerRef: "SRV-" + req.Reference}, nil
}

// Biller returns c for its own name and donation.ErrUnknownCarrier for
// any other.
func (c *Carrier) Biller(carrier string) (donation.Biller, error) {
	if carrier != c.name() {
		return nil, fmt.Errorf("carrier %q: %w", carrier, donation.ErrUnknownCarrier)
	}
	return c, nil
}

// Fees returns the fee schedule for c's own name.
func (c *Carrier) Fees(carrier string) (donation.Fees, error) {
	if _, err := c.Biller(carrier); err != nil {
		return donation.Fees{}, err
	}
	return c.Schedule, nil
}

func (c *Carrier) name() string {
	if c.Name == "" {
		return DefaultCarrier
	}
	return c.Name
}

// Calls counts the charge calls made.
func (c *Carrier) Calls() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.calls
}

// Charged returns how many charges were applied, and their total in cents.
func (c *Carrier) Charged() (n int, cents int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, r := range c.charges {
		n++
		cents += r.Amount
	}
	return n, cents
}

// Refunded returns how many refunds were applied.
func (c *Carrier) Refunded() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.refunds)
}

// MOs keeps the MOs a webhook hands it, in order. When Err is set it
// answers Err to each; otherwise, as the service does, it answers
// donation.ErrDuplicate to an MO whose MessageID it already has, and does
// not keep it again.
type MOs struct {
	Err error

	mu  sync.Mutex
	mos []donation.MO
}

// HandleMO keeps mo.
func (f *MOs) HandleMO(_ context.Context, mo donation.MO) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.Err == nil {
		for _, seen := range f.mos {
			if seen.MessageID == mo.MessageID {
				return donation.ErrDuplicate
			}
		}
	}
	f.mos = append(f.mos, mo)
	return f.Err
}

// Got returns the MOs kept so far.
func (f *MOs) Got() []donation.MO {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]donation.MO(nil), f.mos...)
}

// Status is one delivery status a webhook handed on.
type Status struct {
	SID       string
	Status    donation.DeliveryStatus
	ErrorCode string
	At        time.Time
}

// Statuses keeps the delivery statuses a webhook hands it, in order, and
// answers Err to each.
type Statuses struct {
	Err error

	mu       sync.Mutex
	statuses []Status
}

// RecordStatus keeps the status.
func (f *Statuses) RecordStatus(_ context.Context, sid string, status donation.DeliveryStatus, errorCode string, now time.Time) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.statuses = append(f.statuses, Status{sid, status, errorCode, now})
	return f.Err
}

// Got returns the statuses kept so far.
func (f *Statuses) Got() []Status {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Status(nil), f.statuses...)
}

// TermsElements are the SPEC §4.5 elements the demo program's full-terms
// page must show, word for word, for the tests of its page and its browser.
var TermsElements = []string{
	// the certification
	"I am a United States citizen or a lawful permanent resident",
	"I am 18 years of age or older.",
	"made from my own funds", "I will not be reimbursed for it by anyone",
	"I am not a federal government contractor.",
	"is not paid for by a corporation, labor organization or other business",
	// what the words mean
	"A foreign national is", "A federal government contractor is",
	// the program's limits and prices
	"$5, $10, $15, $20", "at most $20 in one message", "at most $50 per calendar month and in any 31 days",
	"at most $200 per election cycle",
	// the bill, fees, refunds, care, HELP/STOP, privacy
	"appears on your next mobile phone bill as a charge from short code 62262",
	"receives less than the amount you give", "To ask for a refund",
	"Customer care: support@example.org.", "Text HELP to 62262", "Text STOP to 62262", "Privacy.",
	"not tax deductible", "Paid for by Demo Committee for Testing.",
	// the committee
	"Demo Committee for Testing", "committee C99999999",
}
