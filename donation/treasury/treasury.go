// Package treasury follows the money after the charge (SPEC §6.3, §6.4):
// refunds through the carrier, settlement files matched line by line, fees,
// forwarding to the committee and the deadlines of each. Like donation, it
// knows no SQL and no HTTP.
package treasury

import (
	"fmt"
	"time"

	"github.com/shortcode/shortcode/compliance"
	"github.com/shortcode/shortcode/donation"
)

// Reason is why a contribution is refunded.
type Reason string

const (
	// Prohibited: from a prohibited source (foreign national, corporation,
	// federal contractor...); the number is blocklisted.
	Prohibited Reason = "prohibited"
	// Excessive: over a contribution limit.
	Excessive Reason = "excessive"
	// DonorRequest: the donor asked for it.
	DonorRequest Reason = "donor-request"
)

// ParseReason checks a reason given on the command line or the API.
func ParseReason(s string) (Reason, error) {
	switch r := Reason(s); r {
	case Prohibited, Excessive, DonorRequest:
		return r, nil
	}
	return "", fmt.Errorf("refund reason %q: want prohibited, excessive or donor-request", s)
}

// RefundStatus is where a refund stands.
type RefundStatus string

const (
	// Posted: recorded before the carrier call; the outcome is not known yet.
	Posted RefundStatus = "posted"
	// Refunded: the carrier credited the donor's bill.
	Refunded RefundStatus = "refunded"
	// Refused: the carrier refused the refund; a new one may be requested.
	Refused RefundStatus = "refused"
)

// Refund is one refund of a contribution.
type Refund struct {
	ID          string // the refund's own referenceCode
	DonationID  string
	Phone       string
	CommitteeID string
	Carrier     string
	Amount      int64
	Reason      Reason
	Status      RefundStatus
	Correlator  string // the retry key, persisted before the call
	RequestedAt time.Time
	// DiscoveredAt is when the treasurer learned the source was
	// prohibited; it starts the 30-day deadline.
	DiscoveredAt  time.Time
	Deadline      time.Time // zero when the law sets none
	Attempts      int
	NextAttemptAt time.Time
	ServerRef     string
	DeclineCode   string
	DeclineReason string
	FinishedAt    time.Time
	Actor         string
}

// Late reports whether the refund was (or, still posted, is) past its
// deadline at now.
func (r Refund) Late(now time.Time) bool {
	if r.Deadline.IsZero() {
		return false
	}
	if r.Status == Refunded {
		return r.FinishedAt.After(r.Deadline)
	}
	return now.After(r.Deadline)
}

// RefundDeadline is when a refund must be made (11 CFR 103.3(b)): 30 days
// from discovering a prohibited source, 60 days from receipt of an
// excessive contribution; none for a donor's request.
func RefundDeadline(reason Reason, receivedAt, discoveredAt time.Time) time.Time {
	switch reason {
	case Prohibited:
		return discoveredAt.Add(30 * 24 * time.Hour)
	case Excessive:
		return receivedAt.Add(60 * 24 * time.Hour)
	}
	return time.Time{}
}

// ForwardDeadline is when a contribution received at receivedAt must reach
// the committee (52 USC 30102(b); 11 CFR 102.8): 10 days, or 30 days for a
// PAC/party contribution of $50 or less.
func ForwardDeadline(c compliance.Committee, amount int64, receivedAt time.Time) time.Time {
	if c.Type == compliance.PAC && amount <= 5000 {
		return receivedAt.Add(30 * 24 * time.Hour)
	}
	return receivedAt.Add(10 * 24 * time.Hour)
}

// Errors of refunds.
var (
	// ErrNotRefundable: the donation is not a completed, unrefunded
	// contribution (declined, cancelled, open, or refunded already).
	ErrNotRefundable = donation.NewError(donation.Conflict, "not refundable")
	// ErrRefundInProgress: a refund of the donation is posted or done.
	ErrRefundInProgress = donation.NewError(donation.Conflict, "a refund of this donation exists")
)

// Refundable checks that d may be refunded now.
func Refundable(d donation.Donation) error {
	switch {
	case d.Status != donation.Completed:
		return fmt.Errorf("donation %s is %s: %w", d.ID, d.Status, ErrNotRefundable)
	case !d.RefundedAt.IsZero():
		return fmt.Errorf("donation %s was refunded on %s: %w", d.ID, d.RefundedAt.Format(time.DateOnly), ErrNotRefundable)
	case d.ServerRef == "":
		return fmt.Errorf("donation %s has no carrier reference: %w", d.ID, ErrNotRefundable)
	}
	return nil
}

// Forward is money forwarded to a committee: every contribution received
// through a date and not yet forwarded.
type Forward struct {
	ID          string
	CommitteeID string
	Amount      int64 // gross of the contributions it covers
	Count       int
	Through     time.Time // received at or before
	At          time.Time
	Reference   string // the wire or check reference
	Actor       string
}

// Due is a contribution whose forwarding deadline is near or missed.
type Due struct {
	Donation donation.Donation
	Deadline time.Time
	Missed   bool
}
