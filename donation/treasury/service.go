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
	// Update runs fn in one transaction and commits when fn returns nil;
	// an error from fn rolls everything back. A non-empty phone serialises
	// it with every other change for that number, the conversation's
	// included (donation.Store.Update takes the same lock).
	Update(ctx context.Context, phone string, fn func(Tx) error) error

	// Donation returns one donation, or an error wrapping donation.ErrNotFound.
	Donation(ctx context.Context, id string) (donation.Donation, error)
	// Committee returns a committee's configuration, or an error wrapping
	// donation.ErrNotFound.
	Committee(ctx context.Context, id string) (compliance.Committee, error)
	// Program returns one program.
	Program(ctx context.Context, id string) (compliance.Program, error)
	// PendingRefunds returns posted refunds due at now.
	PendingRefunds(ctx context.Context, now time.Time) ([]Refund, error)
	// Unforwarded returns a committee's completed, unrefunded contributions
	// not yet forwarded ("" for every committee), oldest receipt first.
	Unforwarded(ctx context.Context, committeeID string) ([]donation.Donation, error)
}

// Tx is one open transaction of Store.Update: it reads, and it writes
// what the domain decided.
type Tx interface {
	// Donation returns one donation, or an error wrapping donation.ErrNotFound.
	Donation(ctx context.Context, id string) (donation.Donation, error)
	// Refund returns one refund, or an error wrapping donation.ErrNotFound.
	Refund(ctx context.Context, id string) (Refund, error)
	// RefundsOf returns the refunds of a donation, oldest first.
	RefundsOf(ctx context.Context, donationID string) ([]Refund, error)
	// Imported tells whether a settlement file with this SHA-256 was
	// imported.
	Imported(ctx context.Context, sha256 string) (bool, error)
	// Settled tells whether a carrier's server reference was settled
	// cleanly by an imported line.
	Settled(ctx context.Context, carrier, serverRef string) (bool, error)
	// Unforwarded is Store.Unforwarded inside the transaction.
	Unforwarded(ctx context.Context, committeeID string) ([]donation.Donation, error)
	// BlockEntry returns a number's entry on a committee's blocklist ("":
	// the global one), or an error wrapping donation.ErrNotFound.
	BlockEntry(ctx context.Context, committeeID, phone string) (Block, error)
	// Apply writes c. A forward of a contribution forwarded meanwhile, or a
	// settlement file imported meanwhile, fails with donation.ErrConflict.
	Apply(ctx context.Context, c Change) error
}

// Service runs refunds, settlement imports, forwarding and the blocklist.
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
		return Refund{}, fmt.Errorf("refund %s: %w", donationID, err)
	}
	// The donation names the number to lock; it is read again under the lock.
	d, err := s.Store.Donation(ctx, donationID)
	if err != nil {
		return Refund{}, fmt.Errorf("refund %s: %w", donationID, err)
	}
	if _, err := s.Carriers.Biller(d.Carrier); err != nil {
		return Refund{}, fmt.Errorf("refund %s: %w: %w", donationID, donation.ErrConflict, err)
	}
	var r Refund
	err = s.Store.Update(ctx, d.Phone, func(tx Tx) error {
		d, err := tx.Donation(ctx, donationID)
		if err != nil {
			return err
		}
		earlier, err := tx.RefundsOf(ctx, donationID)
		if err != nil {
			return err
		}
		c, err := RequestRefund(d, earlier, reason, discovered, actor, "R"+randomHex(10), s.now())
		if err != nil {
			return err
		}
		r = *c.Refund
		return tx.Apply(ctx, c)
	})
	if err != nil {
		return Refund{}, fmt.Errorf("refund: %w", err)
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

// attempt posts a refund to the carrier, outside any transaction, and
// records the outcome under the donor's lock.
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
	known := err == nil && (out.Outcome == donation.Charged || out.Outcome == donation.ChargeDeclined)
	if !known {
		s.log().Warn("refund outcome unknown; will try again", "refund", r.ID, "phone", compliance.MaskPhone(r.Phone),
			"attempt", r.Attempts+1, "err", err)
	}
	retryAt := s.now().Add(s.backoff(r.Attempts + 1))
	err = s.Store.Update(ctx, r.Phone, func(tx Tx) error {
		stored, err := tx.Refund(ctx, r.ID)
		if err != nil {
			return err
		}
		var c Change
		r, c = RefundOutcome(stored, out, known, s.now(), retryAt)
		if c.Refund == nil {
			return nil
		}
		return tx.Apply(ctx, c)
	})
	if err != nil {
		return r, fmt.Errorf("refund %s: record outcome: %w", r.ID, err)
	}
	if r.Status == Refunded {
		s.log().Info("refund completed", "refund", r.ID, "donation", r.DonationID, "phone", compliance.MaskPhone(r.Phone), "amount_cents", r.Amount, "program", d.ProgramID)
	}
	return r, nil
}

// backoff is the wait before the attempt-th retry: doubling from Backoff
// up to five minutes, with jitter so that refunds do not retry in step.
func (s *Service) backoff(attempt int) time.Duration {
	base := s.Backoff
	if base <= 0 {
		base = time.Second
	}
	d := min(base<<min(attempt-1, 12), 5*time.Minute)
	return d/2 + time.Duration(mrand.Int64N(int64(d/2)+1))
}

// ImportSettlement matches a parsed settlement file against our records
// and stores it (SPEC §6.3): every line is kept, and each unmatched or
// mismatched one is reported, never dropped. A file imported before
// changes nothing and is reported as such.
func (s *Service) ImportSettlement(ctx context.Context, f SettlementFile, actor string) (Report, error) {
	if _, err := s.Carriers.Fees(f.Carrier); err != nil {
		return Report{}, fmt.Errorf("settlement %s: %w: %w", f.Name, donation.ErrInvalid, err)
	}
	rep := Report{File: f.Name, Carrier: f.Carrier, SHA256: f.SHA256}
	err := s.Store.Update(ctx, "", func(tx Tx) error {
		done, err := tx.Imported(ctx, f.SHA256)
		if err != nil || done {
			rep.AlreadyImported = done
			return err
		}
		ours := make([]Ours, len(f.Lines))
		for i, l := range f.Lines {
			if ours[i], err = s.ours(ctx, tx, f.Carrier, l); err != nil {
				return fmt.Errorf("line %d: %w", l.No, err)
			}
		}
		c := Reconcile(f, ours, actor, s.now())
		rep = c.Import.Report
		return tx.Apply(ctx, c)
	})
	if err != nil {
		return Report{}, fmt.Errorf("settlement %s: %w", f.Name, err)
	}
	return rep, nil
}

// ours reads what we hold about a settlement line's reference.
func (s *Service) ours(ctx context.Context, tx Tx, carrier string, l Line) (Ours, error) {
	var o Ours
	d, err := tx.Donation(ctx, l.Reference)
	switch {
	case err == nil:
		o.Donation = &d
	case !errors.Is(err, donation.ErrNotFound):
		return o, err
	}
	r, err := tx.Refund(ctx, l.Reference)
	switch {
	case err == nil:
		o.Refund = &r
	case !errors.Is(err, donation.ErrNotFound):
		return o, err
	}
	o.Settled, err = tx.Settled(ctx, carrier, l.ServerRef)
	return o, err
}

// RecordForward records money forwarded to a committee: every contribution
// received through the given day (in the committee's time zone; today when
// zero) and not yet forwarded. When amount is not nil it must equal their
// total, else nothing is recorded.
func (s *Service) RecordForward(ctx context.Context, committeeID string, through time.Time, amount *int64, reference, actor string) (Forward, error) {
	c, err := s.Store.Committee(ctx, committeeID)
	if err != nil {
		return Forward{}, fmt.Errorf("forward: %w", err)
	}
	var f Forward
	err = s.Store.Update(ctx, "", func(tx Tx) error {
		ds, err := tx.Unforwarded(ctx, committeeID)
		if err != nil {
			return err
		}
		ch, err := PlanForward(c, ds, through, amount, reference, actor, "F"+randomHex(8), s.now())
		if err != nil {
			return err
		}
		f = *ch.Forward
		return tx.Apply(ctx, ch)
	})
	if err != nil {
		return Forward{}, fmt.Errorf("forward: %w", err)
	}
	return f, nil
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

// Block puts a number on a committee's blocklist ("" for the global one).
// added is false when it was there already: then nothing changes, and the
// entry returned is the one found.
func (s *Service) Block(ctx context.Context, committeeID, phone, reason, actor string) (b Block, added bool, err error) {
	phone, err = s.blocklist(ctx, committeeID, phone)
	if err != nil {
		return Block{}, false, err
	}
	err = s.Store.Update(ctx, phone, func(tx Tx) error {
		b, err = tx.BlockEntry(ctx, committeeID, phone)
		if !errors.Is(err, donation.ErrNotFound) {
			return err
		}
		c, err := NewBlock(committeeID, phone, reason, actor, s.now())
		if err != nil {
			return err
		}
		b, added = *c.Block, true
		return tx.Apply(ctx, c)
	})
	if err != nil {
		return Block{}, false, fmt.Errorf("blocklist %s: %w", compliance.MaskPhone(phone), err)
	}
	return b, added, nil
}

// Unblock takes a number off a committee's blocklist ("" for the global
// one) and returns the entry removed; a number not on it is an error
// wrapping donation.ErrNotFound.
func (s *Service) Unblock(ctx context.Context, committeeID, phone, actor string) (Block, error) {
	phone, err := s.blocklist(ctx, committeeID, phone)
	if err != nil {
		return Block{}, err
	}
	var b Block
	err = s.Store.Update(ctx, phone, func(tx Tx) error {
		if b, err = tx.BlockEntry(ctx, committeeID, phone); err != nil {
			return err
		}
		return tx.Apply(ctx, RemoveBlock(b, actor, s.now()))
	})
	if err != nil {
		return Block{}, fmt.Errorf("blocklist %s: %w", compliance.MaskPhone(phone), err)
	}
	return b, nil
}

// blocklist checks a blocklist's committee and returns phone in E.164.
func (s *Service) blocklist(ctx context.Context, committeeID, phone string) (string, error) {
	e164, err := compliance.ParsePhone(phone)
	if err != nil {
		return "", fmt.Errorf("blocklist: %w", err)
	}
	if committeeID != "" {
		if _, err := s.Store.Committee(ctx, committeeID); err != nil {
			return "", fmt.Errorf("blocklist: %w", err)
		}
	}
	return e164, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
