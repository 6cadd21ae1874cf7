package donation

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/shortcode/shortcode/compliance"
)

// Client is the browser a web request came from: what a web certification
// and a PIN entered on a page record (SPEC §8).
type Client struct {
	IP        string
	UserAgent string
}

// A Gift is a gift started on the web (AO 2012-17's second flow, SPEC
// §4.5): the donor's number, an amount of the program's price points, and
// whether the certification box was ticked.
type Gift struct {
	ProgramID string
	Phone     string
	Amount    int64
	Certified bool
	Client    Client
}

// WebOutcome is what became of a gift started on the web.
type WebOutcome string

// The outcomes of a gift started on the web. Only WebPINSent sends a text
// (the PIN); no other changes anything stored.
const (
	WebPINSent     WebOutcome = "pin_sent"    // reserved and certified: the PIN is on its way
	WebUncertified WebOutcome = "uncertified" // the box was not ticked: nothing happens
	WebBadNumber   WebOutcome = "bad_number"  // not a phone number
	WebBadAmount   WebOutcome = "bad_amount"  // not one of the price points
	WebRefused     WebOutcome = "refused"     // screening: the number may not give by text
	WebOverLimit   WebOutcome = "over_limit"  // the amount would pass a cap
	WebOptedOut    WebOutcome = "opted_out"   // the number texted STOP
	WebBusy        WebOutcome = "busy"        // a charge of the number runs
	WebClosed      WebOutcome = "closed"      // the program takes no donations
)

// WebCertification returns the certification shown beside the /give
// form's checkbox: the "Certification." paragraph of program p's terms,
// word for word. Its SHA-256 is what a web certification records.
func WebCertification(p compliance.Program) string {
	for _, block := range strings.Split(compliance.Terms(p), "\n\n") {
		if strings.HasPrefix(block, "Certification.") {
			return block
		}
	}
	return ""
}

// StartWeb applies gift g to the number's subscriber on the program's short
// code: screened as a keyword is, the amount checked against the caps and
// reserved as for SMS, the certification recorded with channel "web" and
// the client, and the PIN sent by text. Nothing is charged: the charge
// waits for the PIN. A refusal changes nothing and sends nothing, since
// whoever typed the number may not own it.
func StartWeb(in Input, g Gift) (Result, WebOutcome, int64, error) {
	s := newStep(in)
	if !g.Certified {
		return Result{}, WebUncertified, 0, nil
	}
	p := s.byID(g.ProgramID)
	if p == nil || !p.TakesDonations() {
		return Result{}, WebClosed, 0, nil
	}
	if !slices.Contains(p.PricePoints, g.Amount) {
		return Result{}, WebBadAmount, 0, nil
	}
	if err := s.lapse(); err != nil {
		return Result{}, "", 0, err
	}
	switch {
	case s.sub.OptedOut:
		return s.refused(), WebOptedOut, 0, nil
	case s.sub.State == Charging:
		return s.refused(), WebBusy, 0, nil
	}
	refusal, err := s.screen(p)
	if err != nil {
		return Result{}, "", 0, err
	}
	if refusal != "" {
		return s.refused(), WebRefused, 0, nil
	}
	usage, err := s.in.Usage(p.Committee.ID)
	if err != nil {
		return Result{}, "", 0, fmt.Errorf("usage for committee %s: %w", p.Committee.ID, err)
	}
	if d := s.open; d != nil && d.Reserved() {
		// The open request this gift replaces is released below.
		usage = withoutReservation(usage, d)
	}
	now := s.in.Now
	expires := now.Add(p.PINExpiry)
	var over *compliance.CapError
	if err := p.Limits.Check(p.Committee, usage, now, expires, g.Amount); errors.As(err, &over) {
		return s.refused(), WebOverLimit, max(over.Remaining, 0), nil
	} else if err != nil {
		return Result{}, "", 0, fmt.Errorf("check limits: %w", err)
	}
	if s.open != nil {
		s.finish(Cancelled)
	}
	s.sub.ExpiredNotice = false
	s.sub.ProgramID = p.ID
	d := &Donation{
		ID: s.in.NewID(), ProgramID: p.ID, CommitteeID: p.Committee.ID, Phone: s.sub.Phone, ShortCode: s.sub.ShortCode,
		Status: Open, Carrier: s.in.Line.Carrier, Amount: g.Amount,
		CreatedAt: now, ReservedAt: now, ReceivedAt: now, CertifiedAt: now, ExpiresAt: expires,
	}
	s.open = d
	s.sub.DonationID = d.ID
	s.effect(Reserve, d)
	text := WebCertification(*p)
	textVersion, textSum := compliance.Version(text)
	terms := compliance.Terms(*p)
	termsVersion, termsSum := compliance.Version(terms)
	s.res.Certification = &Certification{
		Text: text, Terms: terms,
		At: now, ProgramID: p.ID, CommitteeID: p.Committee.ID, Phone: d.Phone, DonationID: d.ID,
		Channel: "web", IP: g.Client.IP, UserAgent: g.Client.UserAgent,
		TextVersion: textVersion, TextSHA256: textSum, TermsVersion: termsVersion, TermsSHA256: termsSum,
		Amount: d.Amount, Salt: s.in.NewSalt(),
	}
	s.effect(Certify, d)
	pin := s.in.NewPIN()
	d.PINHash = pinHash(s.in.PINKey, d.ID, pin)
	d.Token = s.in.NewToken()
	s.save(d)
	if err := s.fire(evWeb); err != nil {
		return Result{}, "", 0, err
	}
	v := vars(p, d)
	v.PIN = pin
	v.URL = p.DonationURL + d.Token
	if mt := s.send(p, p.Templates.PIN, v, d); mt != nil {
		v.PIN, v.URL = "******", p.DonationURL+"[redacted]"
		mt.Redacted = compliance.Render(p.Templates.PIN, v)
	}
	return s.result(), WebPINSent, 0, nil
}

// refused is the result of a web step that refused the gift: only what
// lapse changed (an open request that ran out), else nothing at all, so
// that a number typed on the page leaves no trace.
func (s *step) refused() Result {
	if len(s.res.Donations) == 0 {
		return Result{}
	}
	return s.result()
}

// withoutReservation returns usage without open donation d's reservation.
func withoutReservation(usage []compliance.Entry, d *Donation) []compliance.Entry {
	if i := slices.IndexFunc(usage, func(e compliance.Entry) bool {
		return e.Amount == d.Amount && e.At.Equal(d.ReservedAt) && e.Until.Equal(d.ExpiresAt)
	}); i >= 0 {
		return slices.Delete(slices.Clone(usage), i, i+1)
	}
	return usage
}

// GiveForm is what the /give page of a program shows.
type GiveForm struct {
	Program compliance.Program
	Terms   TermsPage
	// Certification is the text beside the checkbox (WebCertification).
	Certification string
}

// GiveForm returns the /give page of program programID.
func (s *Service) GiveForm(ctx context.Context, programID string) (GiveForm, error) {
	terms, err := s.Terms(ctx, programID, "")
	if err != nil {
		return GiveForm{}, err
	}
	return GiveForm{Program: terms.Program, Terms: terms, Certification: WebCertification(terms.Program)}, nil
}

// WebStart is the outcome of a gift started on the web.
type WebStart struct {
	Outcome WebOutcome
	// Token opens the new donation's page (WebPINSent).
	Token string
	// Remaining is what the number may still give (WebOverLimit).
	Remaining int64
	// Phone is the number in E.164 (empty for WebBadNumber).
	Phone string
}

// Give starts gift g (SPEC §4.5): in one transaction under the number's
// lock, the same pure step for every outcome (StartWeb), after a number
// lookup made outside it as for a keyword. A gift whose certification is
// not ticked stops before anything is looked up or stored.
func (s *Service) Give(ctx context.Context, g Gift) (WebStart, error) {
	if len(s.PINKey) < MinPINKey {
		return WebStart{}, fmt.Errorf("donation: the PIN key has %d bytes, want at least %d", len(s.PINKey), MinPINKey)
	}
	phone, err := compliance.ParsePhone(g.Phone)
	if err != nil {
		return WebStart{Outcome: WebBadNumber}, nil
	}
	g.Phone = phone
	if !g.Certified {
		return WebStart{Outcome: WebUncertified, Phone: phone}, nil
	}
	p, err := s.Store.Program(ctx, g.ProgramID)
	if err != nil {
		return WebStart{}, fmt.Errorf("gift to program %q: %w", g.ProgramID, err)
	}
	if !p.TakesDonations() {
		return WebStart{Outcome: WebClosed, Phone: phone}, nil
	}
	programs, err := s.Store.Programs(ctx, p.ShortCode)
	if err != nil {
		return WebStart{}, fmt.Errorf("programs on %s: %w", p.ShortCode, err)
	}
	line, lookupErr := s.lookupLine(ctx, phone)
	var (
		res   Result
		from  State
		start = WebStart{Phone: phone}
	)
	err = s.Store.Update(ctx, phone, func(tx Tx) error {
		sub, err := tx.Subscriber(ctx, phone, p.ShortCode)
		if err != nil {
			return err
		}
		from = sub.State
		in, err := s.input(ctx, tx, programs, sub)
		if err != nil {
			return err
		}
		in.Line, in.LookupErr = line, lookupErr
		if res, start.Outcome, start.Remaining, err = StartWeb(in, g); err != nil {
			return err
		}
		return tx.Apply(ctx, res, in.Now, "")
	})
	if err != nil {
		return WebStart{}, fmt.Errorf("gift on the web from %s: %w", compliance.MaskPhone(phone), err)
	}
	s.after(from, res)
	for _, d := range res.Donations {
		if d.Status == Open && d.Token != "" {
			start.Token = d.Token
		}
	}
	s.log().Info("gift on the web", "phone", compliance.MaskPhone(phone), "program", p.ID, "amount_cents", g.Amount, "outcome", start.Outcome)
	return start, nil
}
