package sim

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/shortcode/shortcode/donation"
)

// Errors of the simulated carrier's billing. Each means the request was
// refused without a charge.
var (
	// ErrReferenceReused: the donation id (the referenceCode) was already
	// charged under another correlator (OneAPI SVC0002).
	ErrReferenceReused = errors.New("sim: referenceCode already used with another clientCorrelator (SVC0002)")
	// ErrCorrelatorReused: the correlator was already used for a charge
	// with a different donation id, phone number or amount.
	ErrCorrelatorReused = errors.New("sim: clientCorrelator already used for a different charge")
	// ErrInvalidCharge: the request lacks a donation id, correlator or
	// phone number, or its amount is not positive.
	ErrInvalidCharge = errors.New("sim: invalid charge request")
)

// Charge is one entry of the simulated carrier's ledger.
type Charge struct {
	ServerRef  string    `json:"server_ref"`  // the carrier's reference
	DonationID string    `json:"donation_id"` // the referenceCode
	Correlator string    `json:"correlator"`  // the clientCorrelator
	Phone      string    `json:"phone"`
	Amount     int64     `json:"amount"` // cents
	At         time.Time `json:"at"`
}

// Carrier is the simulated carrier's billing. It implements donation.Biller
// and approves every charge, once: a repeated correlator gets the first
// result back and is never charged again (SPEC §12.2). The zero value is
// ready to use. Its methods are safe for concurrent use.
type Carrier struct {
	// Now tells the time of charges; nil means time.Now in UTC.
	Now func() time.Time

	mu           sync.Mutex
	ledger       []Charge
	byCorrelator map[string]int // index into ledger
	byDonation   map[string]int // index into ledger
}

var _ donation.Biller = (*Carrier)(nil)

// Charge bills req.Amount to req.Phone, or returns the first result for a
// correlator already seen. A donation id already charged under another
// correlator, or a correlator already used for a different charge, is an
// error (and no charge).
func (c *Carrier) Charge(ctx context.Context, req donation.ChargeRequest) (donation.ChargeResult, error) {
	unknown := donation.ChargeResult{Outcome: donation.Unknown}
	if err := ctx.Err(); err != nil {
		return unknown, fmt.Errorf("sim: charge %s: %w", req.DonationID, err)
	}
	if req.DonationID == "" || req.Correlator == "" || req.Phone == "" || req.Amount <= 0 {
		return unknown, fmt.Errorf("%w: donation %q, correlator %q, amount %d",
			ErrInvalidCharge, req.DonationID, req.Correlator, req.Amount)
	}

	c.mu.Lock()
	defer c.mu.Unlock()
	if i, ok := c.byCorrelator[req.Correlator]; ok {
		ch := c.ledger[i]
		if ch.DonationID != req.DonationID || ch.Phone != req.Phone || ch.Amount != req.Amount {
			return unknown, fmt.Errorf("%w: correlator %s belongs to donation %s", ErrCorrelatorReused, req.Correlator, ch.DonationID)
		}
		return donation.ChargeResult{Outcome: donation.Charged, ServerRef: ch.ServerRef}, nil
	}
	if i, ok := c.byDonation[req.DonationID]; ok {
		return unknown, fmt.Errorf("%w: donation %s was charged under correlator %s",
			ErrReferenceReused, req.DonationID, c.ledger[i].Correlator)
	}

	now := time.Now().UTC()
	if c.Now != nil {
		now = c.Now()
	}
	ch := Charge{
		ServerRef:  newSID("SIM"),
		DonationID: req.DonationID,
		Correlator: req.Correlator,
		Phone:      req.Phone,
		Amount:     req.Amount,
		At:         now,
	}
	if c.byCorrelator == nil {
		c.byCorrelator = make(map[string]int)
		c.byDonation = make(map[string]int)
	}
	c.ledger = append(c.ledger, ch)
	c.byCorrelator[ch.Correlator] = len(c.ledger) - 1
	c.byDonation[ch.DonationID] = len(c.ledger) - 1
	return donation.ChargeResult{Outcome: donation.Charged, ServerRef: ch.ServerRef}, nil
}

// Ledger returns a copy of the charges made, in the order they were made.
func (c *Carrier) Ledger() []Charge {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Charge{}, c.ledger...)
}

// serveLedger answers {"charges":[...]}, in the order they were made.
func (s *Sim) serveLedger(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, struct {
		Charges []Charge `json:"charges"`
	}{s.carrier.Ledger()})
}
