// Package treasury follows the money after the charge (SPEC §6.3, §6.4):
// refunds through the carrier, settlement files matched line by line, fees,
// forwarding to the committee and the deadlines of each. Like donation, it
// knows no SQL and no HTTP.
//
// Every change takes the conversation's shape: the Service reads what it
// needs inside one Store.Update transaction, a pure function of this
// package decides and returns a Change, and the Tx writes it, the
// action-log row with the change it records, before one commit.
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
	return "", fmt.Errorf("refund reason %q: want prohibited, excessive or donor-request: %w", s, donation.ErrInvalid)
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

// Change is everything one treasury step writes; storage writes it in the
// step's one transaction, so that the action-log row commits with the
// change it records, or neither does.
type Change struct {
	// Refund is a refund requested, or moved on by the carrier's answer;
	// it is written whole.
	Refund *Refund
	// Refunded marks Refund's donation refunded as of Refund.FinishedAt:
	// it then counts nothing against the caps.
	Refunded bool
	// Block puts a number on a blocklist; Unblock takes it off.
	Block, Unblock *Block
	// Import is a settlement file's lines and the remittance they record.
	Import *Import
	// Forward is money forwarded; Forwarded are the contributions it
	// covers, none of them forwarded before.
	Forward   *Forward
	Forwarded []string
	// Action is the action-log row of a person's change.
	Action *donation.Action
}

// RequestRefund decides a refund of d, given d's refunds so far: the refund,
// posted, to be durable before the carrier is called; for a prohibited
// source the committee's blocklist entry, made now whatever becomes of the
// refund (refused, unknown, never posted after a crash); and the action-log
// row. id names the refund; discovered is when a prohibited source was
// found (now when zero).
func RequestRefund(d donation.Donation, earlier []Refund, reason Reason, discovered time.Time, actor, id string, now time.Time) (Change, error) {
	if _, err := ParseReason(string(reason)); err != nil {
		return Change{}, err
	}
	if err := Refundable(d); err != nil {
		return Change{}, err
	}
	for _, r := range earlier {
		if r.Status != Refused {
			return Change{}, fmt.Errorf("donation %s: refund %s is %s: %w", d.ID, r.ID, r.Status, ErrRefundInProgress)
		}
	}
	if discovered.IsZero() {
		discovered = now
	}
	if discovered.After(now) {
		return Change{}, fmt.Errorf("refund of %s: discovered %s, in the future: %w", d.ID, discovered.Format(time.DateOnly), donation.ErrInvalid)
	}
	r := Refund{
		ID: id, DonationID: d.ID, Phone: d.Phone, CommitteeID: d.CommitteeID, Carrier: d.Carrier,
		Amount: d.Amount, Reason: reason, Status: Posted, Correlator: id + "-1",
		RequestedAt: now, DiscoveredAt: discovered, Deadline: RefundDeadline(reason, d.ReceivedAt, discovered),
		NextAttemptAt: now, Actor: actor,
	}
	c := Change{Refund: &r, Action: &donation.Action{At: now, Actor: actor, Action: "refund.request",
		Detail: fmt.Sprintf("refund=%s donation=%s reason=%s amount=%s", r.ID, d.ID, reason, Dollars(d.Amount))}}
	if reason == Prohibited {
		c.Block = &Block{CommitteeID: d.CommitteeID, Phone: d.Phone, Reason: "prohibited source", Source: "refund " + r.ID, At: now}
	}
	return c, nil
}

// RefundOutcome records the carrier's answer to an attempt at r, as stored
// now: refunded, refused, or (known false: a timeout, an error) unknown,
// tried again at retryAt with the same correlator. A refund no longer
// posted was recorded by another attempt: nothing changes, and r is
// returned as it is.
func RefundOutcome(r Refund, res donation.RefundResult, known bool, now, retryAt time.Time) (Refund, Change) {
	if r.Status != Posted {
		return r, Change{}
	}
	c := Change{Refund: &r}
	switch {
	case known && res.Outcome == donation.Charged:
		r.Status, r.ServerRef, r.FinishedAt = Refunded, res.ServerRef, now
		c.Refunded = true
	case known && res.Outcome == donation.ChargeDeclined:
		r.Status, r.DeclineCode, r.DeclineReason, r.FinishedAt = Refused, res.Code, res.Reason, now
	default:
		r.Attempts++
		r.NextAttemptAt = retryAt
	}
	return r, c
}

// Forward is money forwarded to a committee: every contribution received
// through a date and not yet forwarded.
type Forward struct {
	ID          string
	CommitteeID string
	Amount      int64 // gross of the contributions it covers
	Count       int
	Through     time.Time // it covers contributions received before this instant
	At          time.Time
	Reference   string // the wire or check reference
	Actor       string
}

// PlanForward decides a forward to committee c by reference: every
// contribution of unforwarded (c's completed, unrefunded contributions not
// yet forwarded) received through the day of through, in c's time zone
// (today when zero). When amount is not nil it must equal their total, else
// nothing is forwarded. id names the forward.
func PlanForward(c compliance.Committee, unforwarded []donation.Donation, through time.Time, amount *int64, reference, actor, id string, now time.Time) (Change, error) {
	if reference == "" || len(reference) > 100 {
		return Change{}, fmt.Errorf("forward: want a reference (wire or check number) of 1 to 100 bytes: %w", donation.ErrInvalid)
	}
	if amount != nil && *amount < 0 {
		return Change{}, fmt.Errorf("forward: negative amount: %w", donation.ErrInvalid)
	}
	if through.IsZero() {
		through = now.In(c.Location())
	}
	y, m, d := through.Date()
	end := time.Date(y, m, d+1, 0, 0, 0, 0, c.Location()).UTC()
	f := Forward{ID: id, CommitteeID: c.ID, Through: end, At: now, Reference: reference, Actor: actor}
	var ids []string
	for _, x := range unforwarded {
		if x.CommitteeID == c.ID && x.ReceivedAt.Before(end) {
			ids = append(ids, x.ID)
			f.Amount += x.Amount
		}
	}
	f.Count = len(ids)
	day := time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Format(time.DateOnly)
	if f.Count == 0 {
		return Change{}, fmt.Errorf("forward: no unforwarded contributions to %s received through %s: %w", c.ID, day, donation.ErrConflict)
	}
	if amount != nil && *amount != f.Amount {
		return Change{}, fmt.Errorf("forward: amount %s does not match the %d contributions' total %s: %w", Dollars(*amount), f.Count, Dollars(f.Amount), donation.ErrConflict)
	}
	return Change{Forward: &f, Forwarded: ids, Action: &donation.Action{At: now, Actor: actor, Action: "forward.record",
		Detail: fmt.Sprintf("forward=%s committee=%s through=%s amount=%s count=%d reference=%q", f.ID, c.ID, day, Dollars(f.Amount), f.Count, reference)}}, nil
}

// Due is a contribution whose forwarding deadline is near or missed.
type Due struct {
	Donation donation.Donation
	Deadline time.Time
	Missed   bool
}
