package treasury

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	mrand "math/rand/v2"
	"slices"
	"time"

	"github.com/shortcode/shortcode/compliance"
	"github.com/shortcode/shortcode/donation"
)

// Store is the durable state the treasury needs. Storage implements it.
type Store interface {
	// Donation returns one donation, or an error wrapping donation.ErrNotFound.
	Donation(ctx context.Context, id string) (donation.Donation, error)
	// Committee returns a committee's configuration.
	Committee(ctx context.Context, id string) (compliance.Committee, error)
	// Program returns one program.
	Program(ctx context.Context, id string) (compliance.Program, error)

	// BeginRefund records r as posted, serialised on the donor's number,
	// after checking with check that the donation (read in the same
	// transaction) may be refunded and that no live refund of it exists
	// (ErrRefundInProgress). For a prohibited source it blocklists the
	// number for the committee in the same transaction.
	BeginRefund(ctx context.Context, r Refund, check func(donation.Donation) error) error
	// FinishRefund records a refund's final status; a refunded one marks
	// its donation refunded.
	FinishRefund(ctx context.Context, r Refund) error
	// RetryRefund schedules another attempt at a posted refund.
	RetryRefund(ctx context.Context, id string, attempts int, next time.Time) error
	// PendingRefunds returns posted refunds due at now.
	PendingRefunds(ctx context.Context, now time.Time) ([]Refund, error)
	// Refunds lists the refunds of a committee ("" for all), oldest first.
	Refunds(ctx context.Context, committeeID string) ([]Refund, error)

	// ImportSettlement stores every line of f with match's verdict on it,
	// and records remittance for the cleanly matched paid lines, in one
	// transaction; a file already imported changes nothing.
	ImportSettlement(ctx context.Context, f SettlementFile, now time.Time, match func(Line, *donation.Donation, *Refund, bool) string) (Report, error)

	// RecordForward marks every completed, unrefunded, unforwarded
	// contribution of f.CommitteeID received through f.Through as forwarded
	// by f, fills in f.Amount and f.Count, and stores f; check may refuse
	// the total before anything is written.
	RecordForward(ctx context.Context, f Forward, check func(Forward) error) (Forward, error)
	// Unforwarded returns a committee's completed, unrefunded contributions
	// not yet forwarded ("" for every committee).
	Unforwarded(ctx context.Context, committeeID string) ([]donation.Donation, error)

	// LogAction appends a treasurer's or admin's action to the action log.
	LogAction(ctx context.Context, at time.Time, actor, action, detail string) error
}

// Service runs refunds, settlement imports and forwarding.
type Service struct {
	Store    Store
	Carriers donation.Carriers
	Clock    donation.Clock
	Log      *slog.Logger
	// Backoff is the first wait after a refund's unknown outcome; it
	// doubles up to five minutes. One second when zero.
	Backoff time.Duration
}

func (s *Service) now() time.Time {
	if s.Clock == nil {
		return time.Now().UTC()
	}
	return s.Clock.Now().UTC()
}

func (s *Service) log() *slog.Logger {
	if s.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.Log
}

// Refund refunds a contribution through the carrier (SPEC §6.4). The refund
// is durable before the carrier call; if the outcome is unknown it stays
// posted and RefundPending tries again with the same correlator. discovered
// is when a prohibited source was found (now when zero); such a source is
// blocklisted as the refund is recorded, whether or not the carrier then
// refunds.
func (s *Service) Refund(ctx context.Context, donationID string, reason Reason, discovered time.Time, actor string) (Refund, error) {
	if _, err := ParseReason(string(reason)); err != nil {
		return Refund{}, err
	}
	d, err := s.Store.Donation(ctx, donationID)
	if err != nil {
		return Refund{}, fmt.Errorf("refund %s: %w", donationID, err)
	}
	if err := Refundable(d); err != nil {
		return Refund{}, fmt.Errorf("refund: %w", err)
	}
	if _, err := s.Carriers.Biller(d.Carrier); err != nil {
		return Refund{}, fmt.Errorf("refund %s: %w", donationID, err)
	}
	now := s.now()
	if discovered.IsZero() {
		discovered = now
	}
	id := "R" + randomHex(10)
	r := Refund{
		ID: id, DonationID: d.ID, Phone: d.Phone, CommitteeID: d.CommitteeID, Carrier: d.Carrier,
		Amount: d.Amount, Reason: reason, Status: Posted, Correlator: id + "-1",
		RequestedAt: now, DiscoveredAt: discovered, Deadline: RefundDeadline(reason, d.ReceivedAt, discovered),
		NextAttemptAt: now, Actor: actor,
	}
	if err := s.Store.BeginRefund(ctx, r, Refundable); err != nil {
		return Refund{}, fmt.Errorf("refund %s: %w", donationID, err)
	}
	detail := fmt.Sprintf("donation=%s refund=%s reason=%s amount=%s", d.ID, r.ID, reason, Dollars(d.Amount))
	if err := s.Store.LogAction(ctx, now, actor, "refund", detail); err != nil {
		return r, err
	}
	return s.attempt(ctx, r)
}

// RefundPending retries posted refunds whose outcome is unknown.
func (s *Service) RefundPending(ctx context.Context) (int, error) {
	rs, err := s.Store.PendingRefunds(ctx, s.now())
	if err != nil {
		return 0, fmt.Errorf("pending refunds: %w", err)
	}
	n := 0
	var errs []error
	for _, r := range rs {
		r, err := s.attempt(ctx, r)
		if err != nil {
			errs = append(errs, err)
		}
		if r.Status != Posted {
			n++
		}
	}
	return n, errors.Join(errs...)
}

// attempt posts a refund to the carrier and records the outcome.
func (s *Service) attempt(ctx context.Context, r Refund) (Refund, error) {
	d, err := s.Store.Donation(ctx, r.DonationID)
	if err != nil {
		return r, fmt.Errorf("refund %s: %w", r.ID, err)
	}
	p, err := s.Store.Program(ctx, d.ProgramID)
	if err != nil {
		return r, fmt.Errorf("refund %s: %w", r.ID, err)
	}
	var out donation.RefundResult
	b, err := s.Carriers.Biller(r.Carrier)
	if err == nil {
		out, err = b.Refund(ctx, donation.RefundRequest{
			DonationID: r.DonationID, Reference: r.ID, Correlator: r.Correlator, Phone: r.Phone,
			Amount: r.Amount, Carrier: r.Carrier, OriginalServerRef: d.ServerRef,
			CommitteeID: p.Committee.ID, CommitteeName: p.Committee.Name,
		})
	}
	switch {
	case err == nil && out.Outcome == donation.Charged:
		r.Status, r.ServerRef, r.FinishedAt = Refunded, out.ServerRef, s.now()
	case err == nil && out.Outcome == donation.ChargeDeclined:
		r.Status, r.DeclineCode, r.DeclineReason, r.FinishedAt = Refused, out.Code, out.Reason, s.now()
	default:
		r.Attempts++
		base := s.Backoff
		if base <= 0 {
			base = time.Second
		}
		d := min(base<<min(r.Attempts-1, 12), 5*time.Minute)
		r.NextAttemptAt = s.now().Add(d/2 + time.Duration(mrand.Int64N(int64(d/2)+1)))
		s.log().Warn("refund outcome unknown; will try again", "refund", r.ID, "attempt", r.Attempts, "err", err)
		if err := s.Store.RetryRefund(ctx, r.ID, r.Attempts, r.NextAttemptAt); err != nil {
			return r, fmt.Errorf("refund %s: %w", r.ID, err)
		}
		return r, nil
	}
	if err := s.Store.FinishRefund(ctx, r); err != nil {
		return r, fmt.Errorf("refund %s: record outcome: %w", r.ID, err)
	}
	if r.Status == Refunded {
		s.log().Info("refund completed", "refund", r.ID, "donation", r.DonationID, "phone", compliance.MaskPhone(r.Phone), "amount_cents", r.Amount, "program", d.ProgramID)
	}
	return r, nil
}

// ImportSettlement matches a parsed settlement file against our records
// and stores it (SPEC §6.3): every line is kept, and each unmatched or
// mismatched one is reported, never dropped.
func (s *Service) ImportSettlement(ctx context.Context, f SettlementFile, actor string) (Report, error) {
	if _, err := s.Carriers.Fees(f.Carrier); err != nil {
		return Report{}, fmt.Errorf("settlement %s: %w", f.Name, err)
	}
	now := s.now()
	rep, err := s.Store.ImportSettlement(ctx, f, now, func(l Line, d *donation.Donation, r *Refund, settled bool) string {
		return Match(l, f.Carrier, d, r, settled)
	})
	if err != nil {
		return rep, err
	}
	if !rep.AlreadyImported {
		err = s.Store.LogAction(ctx, now, actor, "settle import", rep.Summary())
	}
	return rep, err
}

// RecordForward records money forwarded to a committee: every contribution
// received through the given day (in the committee's time zone) and not yet
// forwarded. When amount is not nil it must equal their total, else nothing
// is recorded.
func (s *Service) RecordForward(ctx context.Context, committeeID string, through time.Time, amount *int64, reference, actor string) (Forward, error) {
	c, err := s.Store.Committee(ctx, committeeID)
	if err != nil {
		return Forward{}, fmt.Errorf("forward: %w", err)
	}
	if reference == "" {
		return Forward{}, errors.New("forward: a reference (wire or check number) is required")
	}
	y, m, d := through.Date()
	end := time.Date(y, m, d+1, 0, 0, 0, 0, c.Location()).UTC()
	f := Forward{ID: "F" + randomHex(8), CommitteeID: committeeID, Through: end, At: s.now(), Reference: reference, Actor: actor}
	f, err = s.Store.RecordForward(ctx, f, func(got Forward) error {
		if got.Count == 0 {
			return fmt.Errorf("forward: no unforwarded contributions to %s received through %s", committeeID, through.Format(time.DateOnly))
		}
		if amount != nil && *amount != got.Amount {
			return fmt.Errorf("forward: amount %s does not match the %d contributions' total %s", Dollars(*amount), got.Count, Dollars(got.Amount))
		}
		return nil
	})
	if err != nil {
		return f, err
	}
	detail := fmt.Sprintf("forward=%s committee=%s amount=%s count=%d reference=%s", f.ID, committeeID, Dollars(f.Amount), f.Count, reference)
	return f, s.Store.LogAction(ctx, f.At, actor, "forward", detail)
}

// Due lists contributions whose forwarding deadline is missed or falls
// within the next `within` (SPEC §6.3), soonest first.
func (s *Service) Due(ctx context.Context, committeeID string, within time.Duration) ([]Due, error) {
	ds, err := s.Store.Unforwarded(ctx, committeeID)
	if err != nil {
		return nil, fmt.Errorf("forwarding deadlines: %w", err)
	}
	now := s.now()
	committees := map[string]compliance.Committee{}
	var out []Due
	for _, d := range ds {
		c, ok := committees[d.CommitteeID]
		if !ok {
			if c, err = s.Store.Committee(ctx, d.CommitteeID); err != nil {
				return nil, fmt.Errorf("forwarding deadlines: %w", err)
			}
			committees[d.CommitteeID] = c
		}
		deadline := ForwardDeadline(c, d.Amount, d.ReceivedAt)
		if deadline.Sub(now) <= within {
			out = append(out, Due{Donation: d, Deadline: deadline, Missed: now.After(deadline)})
		}
	}
	slices.SortStableFunc(out, func(a, b Due) int { return a.Deadline.Compare(b.Deadline) })
	return out, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
