package donation

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/looplab/fsm"

	"github.com/shortcode/shortcode/compliance"
)

// Events of the conversation. The transition table below is the single
// place that says which state may follow which; every state change of a
// step goes through it.
const (
	evKeyword  = "keyword"  // a program keyword opens (or replaces) a request
	evAmount   = "amount"   // an allowed amount within the caps: reserve
	evConfirm  = "confirm"  // YES in combined mode: intent + certification
	evIntent   = "intent"   // YES in separate mode: intent only
	evCertify  = "certify"  // YES in separate mode's second step
	evPIN      = "pin"      // the correct PIN: post the charge
	evCharged  = "charged"  // the carrier billed the donor
	evDeclined = "declined" // the carrier refused
	evCancel   = "cancel"   // NO, STOP, too many wrong PINs or re-prompts
	evExpire   = "expire"   // the request's timer ran out
	evStop     = "stop"     // STOP while a charge runs: the charge runs to its end
	evWeb      = "web"      // the /give form: screened, reserved and certified at once
)

var (
	openStates = []string{string(ChoosingAmount), string(Confirming), string(Certifying), string(VerifyingPIN)}

	transitions = fsm.Events{
		{Name: evKeyword, Src: append([]string{string(Idle)}, openStates...), Dst: string(ChoosingAmount)},
		{Name: evAmount, Src: []string{string(ChoosingAmount)}, Dst: string(Confirming)},
		{Name: evConfirm, Src: []string{string(Confirming)}, Dst: string(VerifyingPIN)},
		{Name: evIntent, Src: []string{string(Confirming)}, Dst: string(Certifying)},
		{Name: evCertify, Src: []string{string(Certifying)}, Dst: string(VerifyingPIN)},
		{Name: evPIN, Src: []string{string(VerifyingPIN)}, Dst: string(Charging)},
		{Name: evCharged, Src: []string{string(Charging)}, Dst: string(Idle)},
		{Name: evDeclined, Src: []string{string(Charging)}, Dst: string(Idle)},
		{Name: evCancel, Src: openStates, Dst: string(Idle)},
		{Name: evExpire, Src: openStates, Dst: string(Idle)},
		{Name: evStop, Src: []string{string(Charging)}, Dst: string(Idle)},
		{Name: evWeb, Src: append([]string{string(Idle)}, openStates...), Dst: string(VerifyingPIN)},
	}
)

// Input is the stored state one step starts from.
type Input struct {
	Now time.Time
	// Programs are the programs on the short code the MO came to, active
	// ones first; only active ones take keywords.
	Programs []compliance.Program
	// Subscriber is the stored subscriber (a new idle one if none).
	Subscriber Subscriber
	// Open is the subscriber's open donation, nil when idle.
	Open *Donation
	// Usage returns what counts against the caps for this phone number and
	// a committee; it is read inside the step's serialised transaction.
	Usage func(committeeID string) ([]compliance.Entry, error)
	// Line is the number lookup made before the step when the MO looked
	// like a keyword; LookupErr is set when that lookup failed. Screening
	// fails closed: no line, no donation.
	Line      *Line
	LookupErr error
	// Blocked tells whether the number is on the committee's or the global
	// blocklist (prohibited sources found earlier).
	Blocked func(committeeID string) (bool, error)
	// NewID, NewPIN and NewToken make donation ids, 6-digit PINs and web
	// tokens; the service backs them with crypto/rand, tests fix them.
	NewID    func() string
	NewPIN   func() string
	NewToken func() string
	// NewSalt makes the salt of a certification's commitment to the
	// phone number.
	NewSalt func() [16]byte
	// PINKey is the server secret PINs are hashed with (HMAC-SHA256), so
	// that a stored hash cannot be reversed by trying the 10^6 PINs.
	PINKey []byte
}

// step is one message's worth of work: the FSM rebuilt from the stored
// state, and the result being assembled.
type step struct {
	in  Input
	f   *fsm.FSM
	sub Subscriber
	res Result
	// open is the donation being worked on; changes are copied into res.
	open *Donation
	// via says where a PIN came from, for the evidence of a correct one.
	via PINVerification
}

func newStep(in Input) *step {
	s := &step{in: in, sub: in.Subscriber}
	if s.sub.State == "" {
		s.sub.State = Idle
	}
	if in.Open != nil && in.Open.Status == Open {
		d := *in.Open
		s.open = &d
	} else if s.sub.State != Idle {
		// A subscriber pointing at a finished donation is at rest.
		s.sub.State, s.sub.DonationID = Idle, ""
	}
	s.f = fsm.NewFSM(string(s.sub.State), transitions, nil)
	return s
}

// fire moves the FSM; a transition the table does not allow is a bug in
// the caller, reported as an error rather than a panic.
func (s *step) fire(event string) error {
	err := s.f.Event(context.Background(), event)
	var noop fsm.NoTransitionError
	if err != nil && !errors.As(err, &noop) {
		return fmt.Errorf("event %s in state %s: %w", event, s.sub.State, err)
	}
	s.sub.State = State(s.f.Current())
	s.sub.Reprompts = 0
	return nil
}

func (s *step) result() Result {
	s.res.Subscriber = s.sub
	return s.res
}

// save records the current version of a donation in the result.
func (s *step) save(d *Donation) {
	for i := range s.res.Donations {
		if s.res.Donations[i].ID == d.ID {
			s.res.Donations[i] = *d
			return
		}
	}
	s.res.Donations = append(s.res.Donations, *d)
}

func (s *step) effect(kind EffectKind, d *Donation) {
	e := Effect{Kind: kind}
	if d != nil {
		e.DonationID, e.Amount = d.ID, d.Amount
	}
	s.res.Effects = append(s.res.Effects, e)
}

// overCap records that cap c refused amount for d.
func (s *step) overCap(d *Donation, amount int64, c compliance.Cap) {
	s.res.Effects = append(s.res.Effects, Effect{Kind: OverCap, DonationID: d.ID, Amount: amount, Cap: c})
}

// program returns the program a reply speaks for: the open donation's,
// else the subscriber's last, else the first on the short code.
func (s *step) program() *compliance.Program {
	if s.open != nil {
		if p := s.byID(s.open.ProgramID); p != nil {
			return p
		}
	}
	if p := s.byID(s.sub.ProgramID); p != nil {
		return p
	}
	if len(s.in.Programs) > 0 {
		return &s.in.Programs[0]
	}
	return nil
}

func (s *step) byID(id string) *compliance.Program {
	for i := range s.in.Programs {
		if s.in.Programs[i].ID == id {
			return &s.in.Programs[i]
		}
	}
	return nil
}

func (s *step) byKeyword(word string) *compliance.Program {
	for i := range s.in.Programs {
		if s.in.Programs[i].TakesDonations() && slices.Contains(s.in.Programs[i].Keywords, word) {
			return &s.in.Programs[i]
		}
	}
	return nil
}

// vars are the template values for program p and donation d (either may
// be nil).
func vars(p *compliance.Program, d *Donation) compliance.Vars {
	var v compliance.Vars
	if p != nil {
		v = compliance.ProgramVars(*p)
	}
	if d != nil {
		v.Amount = compliance.FormatAmount(d.Amount)
	}
	return v
}

// send queues an MT rendered from tmpl and returns it for the caller to
// annotate until the next send; nil when there is nothing to send.
func (s *step) send(p *compliance.Program, tmpl string, v compliance.Vars, d *Donation) *MT {
	if p == nil || tmpl == "" {
		return nil
	}
	mt := MT{To: s.sub.Phone, From: s.sub.ShortCode, Body: compliance.Render(tmpl, v)}
	if d != nil {
		mt.DonationID = d.ID
	}
	s.res.MTs = append(s.res.MTs, mt)
	return &s.res.MTs[len(s.res.MTs)-1]
}

// finish ends the open donation with status st, releasing its reservation.
func (s *step) finish(st Status) {
	d := s.open
	if d == nil {
		return
	}
	if d.Reserved() {
		s.effect(Release, d)
	}
	d.Status = st
	d.FinishedAt = s.in.Now
	s.save(d)
	if s.sub.DonationID == d.ID {
		s.sub.DonationID = ""
	}
	s.open = nil
}

// HandleMO applies one inbound message to a subscriber. The result holds the
// new subscriber state, changed donations, MTs and effects; nothing is
// stored by this function.
func HandleMO(in Input, mo MO) (Result, error) {
	s := newStep(in)
	if err := s.handle(mo); err != nil {
		return Result{}, err
	}
	return s.result(), nil
}

func (s *step) handle(mo MO) error {
	if err := s.lapse(); err != nil {
		return err
	}
	norm := compliance.Normalize(mo.Body)
	word, rest := compliance.SplitKeyword(norm)

	switch {
	case compliance.IsStop(norm):
		return s.stop(mo, false)
	case compliance.LooksLikeStop(norm):
		return s.stop(mo, true)
	case compliance.IsHelp(norm):
		p := s.program()
		s.send(p, p.Templates.Help, vars(p, nil), nil)
		return nil
	case s.sub.OptedOut:
		if p := s.byKeyword(word); p != nil {
			s.optIn(mo)
			return s.keyword(p, rest)
		}
		if compliance.IsOptIn(norm) || compliance.IsYes(norm) {
			s.optIn(mo)
			p := s.program()
			s.send(p, p.Templates.OptIn, vars(p, nil), nil)
		}
		// Anything else from an opted-out number gets no reply at all.
		return nil
	}

	if p := s.byKeyword(word); p != nil {
		if s.sub.State == Charging {
			return s.processing()
		}
		return s.keyword(p, rest)
	}

	switch s.sub.State {
	case Idle:
		return s.idle()
	case ChoosingAmount:
		if compliance.IsNo(norm) {
			return s.cancel()
		}
		if amount, ok := compliance.ParseAmount(norm); ok {
			return s.choose(amount)
		}
	case Confirming:
		if compliance.IsNo(norm) {
			return s.cancel()
		}
		if compliance.IsYes(norm) {
			return s.confirm(mo)
		}
	case Certifying:
		if compliance.IsNo(norm) {
			return s.cancel()
		}
		if compliance.IsYes(norm) {
			return s.certify(mo, s.program().Templates.Certify)
		}
	case VerifyingPIN:
		if compliance.IsNo(norm) {
			return s.cancel()
		}
		if isDigits(norm) {
			s.via = PINVerification{Channel: "sms", MessageID: mo.MessageID}
			return s.pin(norm)
		}
	case Charging:
		return s.processing()
	}
	return s.reprompt()
}

// lapse ends the open request before anything else is done with it: one
// whose timer ran out while nobody looked expires, and one whose program
// was deactivated since, or whose committee lost its good standing, is
// cancelled without a charge.
func (s *step) lapse() error {
	if d := s.open; d != nil && d.Status == Open && d.ChargePostedAt.IsZero() && !s.in.Now.Before(d.ExpiresAt) {
		if err := s.expire(); err != nil {
			return err
		}
	}
	if d := s.open; d != nil && d.ChargePostedAt.IsZero() {
		if p := s.byID(d.ProgramID); p == nil || !p.TakesDonations() {
			if err := s.fire(evCancel); err != nil {
				return err
			}
			s.finish(Cancelled)
		}
	}
	return nil
}

func isDigits(s string) bool {
	if s == "" || len(s) > 12 {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

func (s *step) stop(mo MO, inferred bool) error {
	if s.sub.OptedOut {
		// Exactly one confirmation: a repeated STOP changes nothing.
		return nil
	}
	p := s.program()
	if err := s.revoke(ConsentEvent{MessageID: mo.MessageID, Text: mo.Body, Inferred: inferred}); err != nil {
		return err
	}
	if p != nil {
		if mt := s.send(p, p.Templates.Stop, vars(p, nil), nil); mt != nil {
			mt.Kind = OptOutConfirmation
		}
	}
	return nil
}

// revoke records an opt-out: any open request is cancelled and released,
// while a posted charge runs to its end with no receipt to follow.
func (s *step) revoke(ev ConsentEvent) error {
	if s.open != nil && s.open.Status == Open {
		if s.sub.State == Charging {
			if err := s.fire(evStop); err != nil {
				return err
			}
			s.sub.DonationID = ""
		} else {
			s.finish(Cancelled)
			if err := s.fire(evCancel); err != nil {
				return err
			}
		}
	}
	s.sub.State = Idle
	s.sub.OptedOut = true
	s.sub.ExpiredNotice = false
	s.res.DropQueued = true
	s.effect(OptOut, nil)
	ev.Phone, ev.ShortCode, ev.At, ev.Kind = s.sub.Phone, s.sub.ShortCode, s.in.Now, string(OptOut)
	s.res.Consent = &ev
	return nil
}

func (s *step) optIn(mo MO) {
	s.sub.OptedOut = false
	s.effect(OptIn, nil)
	s.res.Consent = &ConsentEvent{
		Phone: s.sub.Phone, ShortCode: s.sub.ShortCode, At: s.in.Now, Kind: string(OptIn),
		MessageID: mo.MessageID, Text: mo.Body,
	}
}

func (s *step) idle() error {
	p := s.program()
	if p == nil || !p.TakesDonations() {
		// No hint to text a keyword that would not work.
		return nil
	}
	if s.sub.ExpiredNotice {
		s.sub.ExpiredNotice = false
		s.send(p, p.Templates.Expired, vars(p, nil), nil)
		return nil
	}
	if s.sub.HintAt.IsZero() || s.in.Now.Sub(s.sub.HintAt) >= 24*time.Hour {
		s.sub.HintAt = s.in.Now
		s.send(p, p.Templates.Hint, vars(p, nil), nil)
	}
	return nil
}

func (s *step) processing() error {
	p := s.program()
	s.send(p, p.Templates.Processing, vars(p, nil), nil)
	return nil
}

// keyword opens a request for program p, replacing any open one.
func (s *step) keyword(p *compliance.Program, rest string) error {
	if s.open != nil && s.open.Status == Open {
		s.finish(Cancelled)
	}
	s.sub.ExpiredNotice = false
	s.sub.ProgramID = p.ID
	refusal, err := s.screen(p)
	if err != nil {
		return err
	}
	if refusal != "" {
		if s.sub.State != Idle {
			if err := s.fire(evCancel); err != nil {
				return err
			}
		}
		s.send(p, refusal, vars(p, nil), nil)
		return nil
	}
	now := s.in.Now
	d := &Donation{
		ID:          s.in.NewID(),
		ProgramID:   p.ID,
		CommitteeID: p.Committee.ID,
		Phone:       s.sub.Phone,
		ShortCode:   s.sub.ShortCode,
		Status:      Open,
		Carrier:     s.in.Line.Carrier,
		CreatedAt:   now,
		ExpiresAt:   now.Add(p.ConfirmExpiry),
	}
	s.open = d
	s.sub.DonationID = d.ID
	s.save(d)
	s.effect(Keyword, d)
	if err := s.fire(evKeyword); err != nil {
		return err
	}
	if rest != "" {
		if amount, ok := compliance.ParseAmount(rest); ok {
			return s.choose(amount)
		}
	}
	s.send(p, p.Templates.AmountPrompt, vars(p, d), d)
	return nil
}

// screen refuses, before any price prompt (SPEC §6.1), numbers that may not
// give by text: non-US numbers (+1 is not always the US), failed lookups
// (fail closed), prepaid and business-liable lines, landlines, and numbers
// on the committee's or the global blocklist. It returns the refusal's
// template, or "" to go on.
func (s *step) screen(p *compliance.Program) (string, error) {
	t := p.Templates
	if !compliance.IsUS(s.sub.Phone) {
		return t.NotUS, nil
	}
	line := s.in.Line
	if s.in.LookupErr != nil || line == nil {
		return t.LookupFailed, nil
	}
	switch {
	case line.Country != "US":
		return t.NotUS, nil
	case line.Type == Prepaid:
		return t.Prepaid, nil
	case line.Type == Business:
		return t.Business, nil
	case line.Type != Postpaid:
		return t.Blocked, nil
	}
	if s.in.Blocked != nil {
		blocked, err := s.in.Blocked(p.Committee.ID)
		if err != nil {
			return "", fmt.Errorf("blocklist for committee %s: %w", p.Committee.ID, err)
		}
		if blocked {
			return t.Blocked, nil
		}
	}
	return "", nil
}

// choose checks an amount against the price points and the caps, and
// reserves it (SPEC §5.3) when it fits.
func (s *step) choose(amount int64) error {
	p, d := s.program(), s.open
	if !slices.Contains(p.PricePoints, amount) {
		return s.reprompt()
	}
	usage, err := s.in.Usage(p.Committee.ID)
	if err != nil {
		return fmt.Errorf("usage for committee %s: %w", p.Committee.ID, err)
	}
	// The donor may certify, and so date the gift, at any time until the
	// request expires: the amount must fit every period up to then.
	now := s.in.Now
	expires := now.Add(p.ConfirmExpiry)
	var over *compliance.CapError
	if err := p.Limits.Check(p.Committee, usage, now, expires, amount); errors.As(err, &over) {
		s.overCap(d, amount, over.Cap)
		if len(p.PricePoints) == 0 || over.Remaining < p.PricePoints[0] {
			s.send(p, p.Templates.LimitReached, vars(p, d), d)
			if err := s.fire(evCancel); err != nil {
				return err
			}
			s.finish(Cancelled)
			return nil
		}
		v := vars(p, d)
		v.Remaining = compliance.FormatAmount(over.Remaining)
		s.send(p, p.Templates.OverLimit, v, d)
		return nil
	} else if err != nil {
		return fmt.Errorf("check limits: %w", err)
	}
	d.Amount = amount
	d.ReservedAt = now
	d.ExpiresAt = expires
	s.save(d)
	s.effect(Reserve, d)
	if err := s.fire(evAmount); err != nil {
		return err
	}
	s.send(p, confirmTemplate(p), vars(p, d), d)
	return nil
}

func confirmTemplate(p *compliance.Program) string {
	if p.Mode == compliance.Separate {
		return p.Templates.ConfirmOnly
	}
	return p.Templates.Confirm
}

// confirm handles YES to the confirmation prompt.
func (s *step) confirm(mo MO) error {
	p := s.program()
	if p.Mode == compliance.Separate {
		if err := s.fire(evIntent); err != nil {
			return err
		}
		s.send(p, p.Templates.Certify, vars(p, s.open), s.open)
		return nil
	}
	return s.certify(mo, p.Templates.Confirm)
}

// certify records the certification the donor accepted (the exact text of
// tmpl as sent to them) and sends the PIN.
func (s *step) certify(mo MO, tmpl string) error {
	p, d := s.program(), s.open
	now := s.in.Now
	// The reservation was checked for any date from its reservation to its
	// expiry (handle expires it first once due); a clock behind the one
	// that reserved must not date it earlier.
	received := now
	if received.Before(d.ReservedAt) {
		received = d.ReservedAt
	}
	if ok, err := s.fits(p, d, received); !ok || err != nil {
		return err
	}
	text := compliance.Render(tmpl, vars(p, d))
	textVersion, _ := compliance.Version(tmpl)
	terms := compliance.Terms(*p)
	termsVersion, termsSum := compliance.Version(terms)
	s.res.Certification = &Certification{
		Text: text, Terms: terms,
		At: now, ProgramID: p.ID, CommitteeID: p.Committee.ID, Phone: d.Phone, DonationID: d.ID,
		Channel: "sms", MessageID: mo.MessageID,
		TextVersion: textVersion, TextSHA256: sha256Hex(text),
		TermsVersion: termsVersion, TermsSHA256: termsSum,
		Amount: d.Amount,
	}
	s.effect(Certify, d)
	d.ReceivedAt = received
	d.CertifiedAt = now
	pin := s.in.NewPIN()
	d.PINHash = pinHash(s.in.PINKey, d.ID, pin)
	d.PINTries = 0
	d.Token = s.in.NewToken()
	s.res.Certification.Salt = s.in.NewSalt()
	d.ExpiresAt = now.Add(p.PINExpiry)
	s.save(d)
	ev := evConfirm
	if s.sub.State == Certifying {
		ev = evCertify
	}
	if err := s.fire(ev); err != nil {
		return err
	}
	v := vars(p, d)
	v.PIN = pin
	v.URL = p.DonationURL + d.Token
	if mt := s.send(p, p.Templates.PIN, v, d); mt != nil {
		// Once sent, the text is kept without the PIN and the page token.
		v.PIN, v.URL = "******", p.DonationURL+"[redacted]"
		mt.Redacted = compliance.Render(p.Templates.PIN, v)
	}
	return nil
}

// fits checks the caps again as open request d takes its date of receipt.
// Its reservation was checked for every date it could take, so this refuses
// only one that escaped that check (reserved by an older version, or under
// higher limits); the request then ends with the limit text.
func (s *step) fits(p *compliance.Program, d *Donation, received time.Time) (bool, error) {
	usage, err := s.in.Usage(p.Committee.ID)
	if err != nil {
		return false, fmt.Errorf("usage for committee %s: %w", p.Committee.ID, err)
	}
	// Usage holds the reservation itself, which the check must not count.
	if i := slices.IndexFunc(usage, func(e compliance.Entry) bool {
		return e.Amount == d.Amount && e.At.Equal(d.ReservedAt) && e.Until.Equal(d.ExpiresAt)
	}); i >= 0 {
		usage = slices.Delete(slices.Clone(usage), i, i+1)
	}
	var over *compliance.CapError
	if err := p.Limits.Check(p.Committee, usage, received, time.Time{}, d.Amount); errors.As(err, &over) {
		s.overCap(d, d.Amount, over.Cap)
		s.send(p, p.Templates.LimitReached, vars(p, d), d)
		if err := s.fire(evCancel); err != nil {
			return false, err
		}
		s.finish(Cancelled)
		return false, nil
	} else if err != nil {
		return false, fmt.Errorf("check limits: %w", err)
	}
	return true, nil
}

// pin checks a PIN sent by SMS.
func (s *step) pin(got string) error {
	p, d := s.program(), s.open
	if CheckPIN(s.in.PINKey, d, got) {
		v := s.via
		v.DonationID, v.At = d.ID, s.in.Now
		s.res.Verification = &v
		d.ChargePostedAt = s.in.Now
		d.Correlator = d.ID + "-1"
		s.save(d)
		s.effect(Charge, d)
		return s.fire(evPIN)
	}
	d.PINTries++
	s.save(d)
	if d.PINTries >= p.MaxPINTries {
		s.send(p, p.Templates.PINLocked, vars(p, d), d)
		if err := s.fire(evCancel); err != nil {
			return err
		}
		s.finish(Cancelled)
		return nil
	}
	s.send(p, p.Templates.WrongPIN, vars(p, d), d)
	return nil
}

// PINOutcome is what became of a PIN entered on a donation's page.
type PINOutcome string

// The outcomes of a PIN entered on the web.
const (
	PINAccepted PINOutcome = "accepted" // the charge is posted
	PINWrong    PINOutcome = "wrong"    // counted; tries remain
	PINLocked   PINOutcome = "locked"   // the last try: the request is cancelled
	PINUsed     PINOutcome = "used"     // already charging or charged: nothing more happens
	PINExpired  PINOutcome = "expired"  // the request expired (now or before)
	PINClosed   PINOutcome = "closed"   // the request ended otherwise (NO, STOP, replaced, declined)
)

// EnterPIN applies a PIN entered on donation d's web page (SPEC §4.5) by
// client c: the same step as a PIN by SMS, so a correct one posts the
// charge and a wrong one counts toward the same limit. A donation no
// longer waiting for its PIN changes nothing, whatever the PIN.
func EnterPIN(in Input, d Donation, pin string, c Client) (Result, PINOutcome, error) {
	s := newStep(in)
	s.via = PINVerification{Channel: "web", IP: c.IP, UserAgent: c.UserAgent}
	if s.open == nil || s.open.ID != d.ID {
		// The subscriber moved on, or the donation ended.
		return Result{}, closedOutcome(d, in.Now), nil
	}
	if err := s.lapse(); err != nil {
		return Result{}, "", err
	}
	if s.open == nil {
		return s.result(), closedOutcome(s.res.Donations[len(s.res.Donations)-1], in.Now), nil
	}
	if s.sub.State != VerifyingPIN {
		if s.sub.State == Charging {
			return Result{}, PINUsed, nil
		}
		return Result{}, PINClosed, nil
	}
	if !isDigits(pin) {
		// Not a PIN at all: counted like a wrong one, so the page cannot
		// be used to try more than the limit.
		pin = "-"
	}
	if err := s.pin(pin); err != nil {
		return Result{}, "", err
	}
	switch s.sub.State {
	case Charging:
		return s.result(), PINAccepted, nil
	case VerifyingPIN:
		return s.result(), PINWrong, nil
	}
	return s.result(), PINLocked, nil
}

// closedOutcome says why donation d, no longer waiting for a PIN, takes none.
func closedOutcome(d Donation, now time.Time) PINOutcome {
	switch {
	case !d.ChargePostedAt.IsZero() || d.Status == Completed:
		return PINUsed
	case d.Status == Expired || (d.Status == Open && !now.Before(d.ExpiresAt)):
		return PINExpired
	}
	return PINClosed
}

// CheckPIN compares a PIN with the donation's stored hash, keyed with key,
// in constant time.
func CheckPIN(key []byte, d *Donation, pin string) bool {
	if d.PINHash == "" {
		return false
	}
	return hmac.Equal([]byte(pinHash(key, d.ID, pin)), []byte(d.PINHash))
}

// pinHash is HMAC-SHA256(key, "donationID:pin") in hex. Without the key
// the 10^6 possible PINs cannot be tried against a stored hash.
func pinHash(key []byte, donationID, pin string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(donationID + ":" + pin))
	return hex.EncodeToString(m.Sum(nil))
}

func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// cancel ends the open request at the donor's word.
func (s *step) cancel() error {
	p, d := s.program(), s.open
	s.send(p, p.Templates.Cancelled, vars(p, d), d)
	if err := s.fire(evCancel); err != nil {
		return err
	}
	s.finish(Cancelled)
	return nil
}

// reprompt re-sends the current step's prompt, at most MaxReprompts times,
// then cancels.
func (s *step) reprompt() error {
	if s.sub.State == Idle {
		return s.idle()
	}
	p, d := s.program(), s.open
	if s.sub.Reprompts >= p.MaxReprompts {
		return s.cancel()
	}
	s.sub.Reprompts++
	var tmpl string
	switch s.sub.State {
	case ChoosingAmount:
		tmpl = p.Templates.AmountPrompt
	case Confirming:
		tmpl = confirmTemplate(p)
	case Certifying:
		tmpl = p.Templates.Certify
	case VerifyingPIN:
		// The PIN is stored only as a hash, so it cannot be sent again.
		tmpl = p.Templates.WrongPIN
	}
	s.send(p, tmpl, vars(p, d), d)
	return nil
}

// expire ends the open request silently; the next MO hears about it.
func (s *step) expire() error {
	if err := s.fire(evExpire); err != nil {
		return err
	}
	s.finish(Expired)
	s.sub.ExpiredNotice = true
	return nil
}

// Expire applies the expiry timer to donation d, if it is still open, due
// and not charging; a stale timer changes nothing.
func Expire(in Input, d Donation) (Result, bool, error) {
	if d.Status != Open || !d.ChargePostedAt.IsZero() || in.Now.Before(d.ExpiresAt) {
		return Result{}, false, nil
	}
	s := newStep(in)
	if s.sub.DonationID != d.ID {
		// The subscriber moved on; close the donation alone.
		s.open = &d
		s.finish(Expired)
		return s.result(), true, nil
	}
	if err := s.expire(); err != nil {
		return Result{}, false, err
	}
	return s.result(), true, nil
}

// Settle records a carrier's final outcome for donation d, which must be
// charging, with the fees of the carrier's schedule. A receipt or decline
// text goes to the donor unless they have opted out since.
func Settle(in Input, p compliance.Program, d Donation, out ChargeResult, fees Fees) (Result, error) {
	if d.Status != Open || d.ChargePostedAt.IsZero() {
		return Result{}, fmt.Errorf("settle donation %s: not charging (status %s)", d.ID, d.Status)
	}
	s := newStep(in)
	s.in.Programs = append(s.in.Programs, p)
	current := s.sub.DonationID == d.ID && s.sub.State == Charging
	s.open = &d
	var tmpl string
	switch out.Outcome {
	case Charged:
		d.ServerRef = out.ServerRef
		d.CarrierFee, d.AggregatorFee = fees.For(p).Apply(d.Amount)
		d.Status = Completed
		d.FinishedAt = s.in.Now
		s.save(&d)
		tmpl = p.Templates.Receipt
		if current {
			if err := s.fire(evCharged); err != nil {
				return Result{}, err
			}
		}
	case ChargeDeclined:
		d.DeclineCode, d.DeclineReason = out.Code, out.Reason
		s.finish(Declined)
		tmpl = p.Templates.Decline
		if current {
			if err := s.fire(evDeclined); err != nil {
				return Result{}, err
			}
		}
	default:
		return Result{}, fmt.Errorf("settle donation %s: outcome %q is not final", d.ID, out.Outcome)
	}
	if current {
		s.sub.DonationID = ""
	}
	if !s.sub.OptedOut {
		s.send(&p, tmpl, vars(&p, &d), &d)
	}
	return s.result(), nil
}
