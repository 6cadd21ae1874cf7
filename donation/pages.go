package donation

import (
	"context"
	"errors"
	"fmt"

	"github.com/shortcode/shortcode/compliance"
)

// TermsPage is a program's full terms (SPEC §4.5) in one version: Text is
// the exact text whose SHA-256 certifications record.
type TermsPage struct {
	Program compliance.Program
	Text    string
	Version string
	SHA256  string
	// Current says Text is the program's terms today; an older version is
	// one a donor certified to before the program changed.
	Current bool
}

// Terms returns the full terms of program programID: the current text when
// version is empty or names it, else the version a donor certified to
// (ErrNotFound when none did).
func (s *Service) Terms(ctx context.Context, programID, version string) (TermsPage, error) {
	p, err := s.Store.Program(ctx, programID)
	if err != nil {
		return TermsPage{}, fmt.Errorf("terms of program %q: %w", programID, err)
	}
	page := TermsPage{Program: p, Text: compliance.Terms(p), Current: true}
	page.Version, page.SHA256 = compliance.Version(page.Text)
	if version == "" || version == page.Version {
		return page, nil
	}
	text, err := s.Store.TermsText(ctx, programID, version)
	if err != nil {
		return TermsPage{}, err
	}
	page.Text, page.Current = text, false
	page.Version, page.SHA256 = compliance.Version(text)
	if page.Version != version {
		return TermsPage{}, fmt.Errorf("terms %s of program %q: %w", version, programID, errors.New("stored text has another version"))
	}
	return page, nil
}

// DonationPage is what a donation's page shows (SPEC §4.5).
type DonationPage struct {
	Donation Donation
	Program  compliance.Program
	// Terms is the full terms in the version the donor certified to now.
	Terms TermsPage
	// Waiting says the donation takes a PIN now; otherwise Outcome says
	// why not.
	Waiting bool
	Outcome PINOutcome
	// TriesLeft is how many wrong PINs the donation can still take.
	TriesLeft int
}

// Page returns the page of the donation whose token is token; ErrNotFound
// for a token no donation has.
func (s *Service) Page(ctx context.Context, token string) (DonationPage, error) {
	d, err := s.Store.DonationByToken(ctx, token)
	if err != nil {
		return DonationPage{}, err
	}
	return s.page(ctx, d)
}

func (s *Service) page(ctx context.Context, d Donation) (DonationPage, error) {
	p, err := s.Store.Program(ctx, d.ProgramID)
	if err != nil {
		return DonationPage{}, fmt.Errorf("program of donation %s: %w", d.ID, err)
	}
	terms, err := s.Terms(ctx, d.ProgramID, "")
	if err != nil {
		return DonationPage{}, err
	}
	page := DonationPage{Donation: d, Program: p, Terms: terms, TriesLeft: max(p.MaxPINTries-d.PINTries, 0)}
	now := s.now()
	switch {
	case d.Status == Open && d.ChargePostedAt.IsZero() && d.PINHash != "" && now.Before(d.ExpiresAt) && p.TakesDonations():
		page.Waiting = true
	case d.Status == Open && d.ChargePostedAt.IsZero() && now.Before(d.ExpiresAt):
		page.Outcome = PINClosed
	default:
		page.Outcome = closedOutcome(d, now)
	}
	return page, nil
}

// EnterPIN applies a PIN entered by client c on the page of the donation
// whose token is token, in one transaction under the donor's lock,
// through the same step as a PIN by SMS (EnterPIN); it returns the outcome
// and the page as it is after it.
func (s *Service) EnterPIN(ctx context.Context, token, pin string, c Client) (PINOutcome, DonationPage, error) {
	if len(s.PINKey) < MinPINKey {
		return "", DonationPage{}, fmt.Errorf("donation: the PIN key has %d bytes, want at least %d", len(s.PINKey), MinPINKey)
	}
	d, err := s.Store.DonationByToken(ctx, token)
	if err != nil {
		return "", DonationPage{}, err
	}
	programs, err := s.Store.Programs(ctx, d.ShortCode)
	if err != nil {
		return "", DonationPage{}, fmt.Errorf("programs on %s: %w", d.ShortCode, err)
	}
	var (
		res  Result
		out  PINOutcome
		from State
	)
	err = s.Store.Update(ctx, d.Phone, func(tx Tx) error {
		cur, err := tx.Donation(ctx, d.ID)
		if err != nil {
			return err
		}
		sub, err := tx.Subscriber(ctx, cur.Phone, cur.ShortCode)
		from = sub.State
		if err != nil {
			return err
		}
		in, err := s.input(ctx, tx, programs, sub)
		if err != nil {
			return err
		}
		if res, out, err = EnterPIN(in, cur, pin, c); err != nil {
			return err
		}
		d = cur
		for _, changed := range res.Donations {
			if changed.ID == d.ID {
				d = changed
			}
		}
		return tx.Apply(ctx, res, in.Now, "")
	})
	if err != nil {
		return "", DonationPage{}, fmt.Errorf("PIN on the page of donation %s from %s: %w", d.ID, compliance.MaskPhone(d.Phone), err)
	}
	s.after(from, res)
	if out == PINWrong || out == PINLocked {
		s.log().Warn("wrong PIN on a donation page", "donation", d.ID, "phone", compliance.MaskPhone(d.Phone), "tries", d.PINTries)
	}
	page, err := s.page(ctx, d)
	return out, page, err
}
