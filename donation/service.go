package donation

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	mrand "math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/shortcode/shortcode/compliance"
)

// InputError is bad input from outside (an invalid phone number, say): the
// gateway should get a 4xx, not a retry.
type InputError struct{ Err error }

func (e *InputError) Error() string { return e.Err.Error() }
func (e *InputError) Unwrap() error { return e.Err }

// Kind is the wrapped error's kind when it has one (an unknown short code
// is NotFound), else Invalid.
func (e *InputError) Kind() Kind {
	if k := KindOf(e.Err); k != Internal {
		return k
	}
	return Invalid
}

// Service applies messages, timers and charge outcomes to subscribers, one
// serialised transaction at a time, and runs the workers that charge
// donations and send the outbox.
type Service struct {
	Store    Store
	Outbox   Outbox
	Looker   Looker   // number lookups for screening; nil refuses every keyword
	Carriers Carriers // billing, routed by the donor's carrier
	Sender   Sender
	Clock    Clock
	Log      *slog.Logger
	// Rand is the source of ids, PINs and tokens; crypto/rand when nil.
	Rand io.Reader
	// Poll is how often the workers look for work they were not woken
	// for (another server's, or retries); one second when zero.
	Poll time.Duration
	// ChargeBackoff is the first wait before asking again about a charge
	// whose outcome was unknown; it doubles up to five minutes. One second
	// when zero.
	ChargeBackoff time.Duration
	// ChargeLease is how long an attempt at a charge is left to the server
	// that claimed it before another may make it (if that server died);
	// 30 seconds when zero. It should outlast the carrier client's timeout.
	ChargeLease time.Duration
	// Workers is how many charges are in flight at once; 8 when zero.
	Workers int
	// Senders is how many MTs are being sent at once; 32 when zero.
	Senders int
	// RateLimit is how many MOs a phone number may send in a minute before
	// the next ones are recorded but not answered (SPEC §11); 20 when zero.
	// STOP is honoured whatever the rate.
	RateLimit int
	// PINKey is the server secret PINs are hashed with; every server of
	// one database needs the same key. At least 16 bytes.
	PINKey []byte
	// SendLease is how long the outbox worker holds the MTs it claimed;
	// every gateway call about an MT ends before its claim does, so no
	// other server can take over an MT that may still be sent. 30 seconds
	// when zero.
	SendLease time.Duration
	// SendTimeout bounds one gateway call; 10 seconds when zero.
	SendTimeout time.Duration
	// Observer is told what the service did, for metrics; nil observes
	// nothing.
	Observer Observer
	// Jitter spreads the retries of sends and charges; the global
	// math/rand/v2 source when nil. A simulation seeds it so that a run
	// replays exactly.
	Jitter *mrand.Rand

	jitterMu sync.Mutex // Jitter is not safe for concurrent use

	inflight sync.Map // donation ids being charged by this process

	chargeWake chan struct{}
	sendWake   chan struct{}
}

func (s *Service) now() time.Time {
	if s.Clock == nil {
		return time.Now().UTC()
	}
	return s.Clock.Now().UTC()
}

func (s *Service) observer() Observer {
	if s.Observer == nil {
		return nopObserver{}
	}
	return s.Observer
}

func (s *Service) log() *slog.Logger {
	if s.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.Log
}

func (s *Service) rand() io.Reader {
	if s.Rand == nil {
		return rand.Reader
	}
	return s.Rand
}

func (s *Service) random(n int) []byte {
	b := make([]byte, n)
	if _, err := io.ReadFull(s.rand(), b); err != nil {
		// crypto/rand does not fail on supported platforms; a test source
		// that runs dry is a broken test.
		panic(fmt.Sprintf("random source: %v", err))
	}
	return b
}

func (s *Service) newID() string {
	return "D" + strings.ToUpper(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(s.random(10)))
}

func (s *Service) newToken() string {
	return base64.RawURLEncoding.EncodeToString(s.random(16))
}

func (s *Service) newPIN() string {
	n, err := rand.Int(s.rand(), big.NewInt(1_000_000))
	if err != nil {
		panic(fmt.Sprintf("random source: %v", err))
	}
	return fmt.Sprintf("%06d", n.Int64())
}

// MinPINKey is the shortest PIN key the service accepts, in bytes.
const MinPINKey = 16

func (s *Service) input(ctx context.Context, tx Tx, programs []compliance.Program, sub Subscriber) (Input, error) {
	in := Input{
		PINKey:     s.PINKey,
		Now:        s.now(),
		Programs:   programs,
		Subscriber: sub,
		Usage: func(committeeID string) ([]compliance.Entry, error) {
			return tx.Usage(ctx, sub.Phone, committeeID)
		},
		Blocked: func(committeeID string) (bool, error) {
			return tx.Blocked(ctx, sub.Phone, committeeID)
		},
		NewID:    s.newID,
		NewPIN:   s.newPIN,
		NewToken: s.newToken,
		// Salts always come from crypto/rand: a test's seeded source
		// would make commitments to phone numbers guessable.
		NewSalt: func() (salt [16]byte) {
			rand.Read(salt[:])
			return salt
		},
	}
	if sub.DonationID != "" {
		d, err := tx.Donation(ctx, sub.DonationID)
		if err != nil {
			return Input{}, fmt.Errorf("open donation %s: %w", sub.DonationID, err)
		}
		in.Open = &d
	}
	return in, nil
}

// HandleMO applies one inbound message. It returns only once the message and
// everything it caused are committed; ErrDuplicate when the gateway already
// delivered it (nothing changes, nothing is sent twice).
func (s *Service) HandleMO(ctx context.Context, mo MO) error {
	began := time.Now()
	program, limited, err := s.handleMO(ctx, mo)
	outcome := MOApplied
	var bad *InputError
	switch {
	case errors.Is(err, ErrDuplicate):
		outcome = MODuplicate
	case errors.As(err, &bad):
		outcome = MORejected
	case err != nil:
		outcome = MOFailed
	case limited:
		outcome = MORateLimited
	}
	s.observer().MOHandled(program, outcome, time.Since(began))
	return err
}

// handleMO is HandleMO; it also returns the program of the conversation the
// MO belongs to, and whether it was over the rate limit.
func (s *Service) handleMO(ctx context.Context, mo MO) (program string, limited bool, err error) {
	phone, err := compliance.ParsePhone(mo.From)
	if err != nil {
		return "", false, &InputError{fmt.Errorf("mo %s: %w", mo.MessageID, err)}
	}
	mo.From = phone
	if len(s.PINKey) < MinPINKey {
		return "", false, fmt.Errorf("donation: the PIN key has %d bytes, want at least %d", len(s.PINKey), MinPINKey)
	}
	if mo.At.IsZero() {
		mo.At = s.now()
	}
	programs, err := s.Store.Programs(ctx, mo.To)
	if err != nil {
		return "", false, fmt.Errorf("mo %s: programs on %s: %w", mo.MessageID, mo.To, err)
	}
	if len(programs) == 0 {
		return "", false, &InputError{fmt.Errorf("mo %s to %q: %w", mo.MessageID, mo.To, ErrUnknownShortCode)}
	}
	line, lookupErr := s.lookup(ctx, programs, phone, mo.Body)
	var (
		res  Result
		from State
	)
	err = s.Store.Update(ctx, phone, func(tx Tx) error {
		res, limited = Result{}, false
		fresh, err := tx.RecordMO(ctx, mo)
		if err != nil {
			return err
		}
		if !fresh {
			return ErrDuplicate
		}
		if over, err := s.overRate(ctx, tx, mo); over || err != nil {
			if limited = over; over {
				s.log().Warn("MO over the rate limit: recorded, not answered", "phone", compliance.MaskPhone(phone), "mo", mo.MessageID)
			}
			return err
		}
		sub, err := tx.Subscriber(ctx, phone, mo.To)
		if err != nil {
			return err
		}
		from = sub.State
		in, err := s.input(ctx, tx, programs, sub)
		if err != nil {
			return err
		}
		in.Line, in.LookupErr = line, lookupErr
		if res, err = HandleMO(in, mo); err != nil {
			return err
		}
		return tx.Apply(ctx, res, in.Now, mo.MessageID)
	})
	if err != nil {
		return "", false, fmt.Errorf("mo %s from %s: %w", mo.MessageID, compliance.MaskPhone(phone), err)
	}
	if limited {
		return "", true, nil
	}
	s.after(from, res)
	return res.Subscriber.ProgramID, false, nil
}

// overRate tells whether mo is over the number's rate limit. A STOP is
// never over it: an opt-out must always be honoured.
func (s *Service) overRate(ctx context.Context, tx Tx, mo MO) (bool, error) {
	norm := compliance.Normalize(mo.Body)
	if compliance.IsStop(norm) || compliance.LooksLikeStop(norm) {
		return false, nil
	}
	limit := s.RateLimit
	if limit <= 0 {
		limit = 20
	}
	n, err := tx.CountMOs(ctx, mo.From, mo.At.Add(-time.Minute))
	if err != nil {
		return false, err
	}
	return n > limit, nil
}

// lookup screens the number at the carrier side when the MO starts with a
// program keyword (SPEC §6.1), outside the transaction so that a slow lookup
// holds no lock. A carrier with no billing endpoint counts as a failed
// lookup: such a number could not be billed.
func (s *Service) lookup(ctx context.Context, programs []compliance.Program, phone, body string) (*Line, error) {
	word, _ := compliance.SplitKeyword(compliance.Normalize(body))
	keyword := false
	for _, p := range programs {
		keyword = keyword || (p.TakesDonations() && slices.Contains(p.Keywords, word))
	}
	if !keyword {
		return nil, nil
	}
	return s.lookupLine(ctx, phone)
}

// lookupLine looks a number up for screening, as for a keyword.
func (s *Service) lookupLine(ctx context.Context, phone string) (*Line, error) {
	if s.Looker == nil {
		return nil, errors.New("lookup: no lookup service configured")
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	line, err := s.Looker.Lookup(ctx, phone)
	if err != nil {
		s.log().Warn("number lookup failed; refusing", "phone", compliance.MaskPhone(phone), "err", err)
		return nil, fmt.Errorf("lookup %s: %w", compliance.MaskPhone(phone), err)
	}
	if s.Carriers == nil {
		return nil, fmt.Errorf("carrier %q: %w", line.Carrier, ErrUnknownCarrier)
	}
	if _, err := s.Carriers.Biller(line.Carrier); err != nil && line.Country == "US" {
		s.log().Error("no billing configured for carrier; refusing", "carrier", line.Carrier, "err", err)
		return nil, err
	}
	return &line, nil
}

// finished names the log line of each final status worth one.
var finished = map[Status]string{
	Completed: "donation completed",
	Declined:  "donation declined",
	Expired:   "donation expired",
}

// after logs the donations a committed result ended, tells the observer of
// it, and wakes the workers it gave work to. from is the subscriber's state
// before the step.
func (s *Service) after(from State, res Result) {
	for _, d := range res.Donations {
		// A result only holds donations it changed, so a final status
		// here was reached just now.
		if msg, ok := finished[d.Status]; ok {
			s.log().Info(msg, "donation", d.ID, "phone", compliance.MaskPhone(d.Phone),
				"amount_cents", d.Amount, "program", d.ProgramID)
		}
	}
	if from == "" {
		from = Idle
	}
	s.observer().Stepped(from, res)
	for _, e := range res.Effects {
		if e.Kind == Charge {
			wake(s.chargeWake)
		}
	}
	if len(res.MTs) > 0 {
		wake(s.sendWake)
	}
}

func wake(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// ExpireDue expires every open request whose timer has run out and returns
// how many it expired.
func (s *Service) ExpireDue(ctx context.Context) (int, error) {
	due, err := s.Store.Due(ctx, s.now())
	if err != nil {
		return 0, fmt.Errorf("due donations: %w", err)
	}
	n := 0
	for _, d := range due {
		var (
			res  Result
			from State
		)
		err := s.Store.Update(ctx, d.Phone, func(tx Tx) error {
			res = Result{}
			cur, err := tx.Donation(ctx, d.ID)
			if err != nil {
				return err
			}
			sub, err := tx.Subscriber(ctx, cur.Phone, cur.ShortCode)
			if err != nil {
				return err
			}
			from = sub.State
			in, err := s.input(ctx, tx, nil, sub)
			if err != nil {
				return err
			}
			var ok bool
			if res, ok, err = Expire(in, cur); err != nil || !ok {
				return err
			}
			return tx.Apply(ctx, res, in.Now, "")
		})
		if err != nil {
			return n, fmt.Errorf("expire %s: %w", d.ID, err)
		}
		if len(res.Donations) > 0 {
			s.after(from, res)
			n++
		}
	}
	return n, nil
}

// ChargePending works on every donation left in charging whose next attempt
// is due (just confirmed by PIN, waiting after an unknown outcome, or left
// by a crashed server), a few at a time, and returns how many reached a
// final outcome. A first attempt posts the charge; after an unknown outcome
// the carrier is asked for the status by reference, and only a carrier that
// has no such charge gets it posted again, with the same correlator, which
// it answers without charging twice (SPEC §6.2).
func (s *Service) ChargePending(ctx context.Context) (int, error) {
	ds, err := s.Store.Charging(ctx)
	if err != nil {
		return 0, fmt.Errorf("charging donations: %w", err)
	}
	now := s.now()
	workers := s.Workers
	if workers <= 0 {
		workers = 8
	}
	var (
		mu   sync.Mutex
		n    int
		errs []error
		wg   sync.WaitGroup
		sem  = make(chan struct{}, workers)
	)
	for _, d := range ds {
		if d.NextChargeAt.After(now) {
			continue
		}
		if _, busy := s.inflight.LoadOrStore(d.ID, true); busy {
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; s.inflight.Delete(d.ID); wg.Done() }()
			ok, err := s.charge(ctx, d)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
			}
			if ok {
				n++
			}
		}()
	}
	wg.Wait()
	return n, errors.Join(errs...)
}

// charge makes one attempt at donation d and records what it learned.
func (s *Service) charge(ctx context.Context, d Donation) (bool, error) {
	d, claimed, err := s.claimCharge(ctx, d)
	if err != nil || !claimed {
		return false, err
	}
	p, err := s.Store.Program(ctx, d.ProgramID)
	if err != nil {
		return false, fmt.Errorf("charge %s: program: %w", d.ID, err)
	}
	req := ChargeRequest{
		DonationID: d.ID, Correlator: d.Correlator, Phone: d.Phone, Amount: d.Amount, Carrier: d.Carrier,
		CommitteeID: p.Committee.ID, CommitteeName: p.Committee.Name, Channel: "SMS",
	}
	var out ChargeResult
	b, err := s.Carriers.Biller(d.Carrier)
	began := time.Now()
	if err == nil {
		// The carrier calls end before the claim does, whatever the
		// carrier client's own timeout, so that no other server makes an
		// attempt while this one may still be applied.
		lease := s.chargeLease()
		callCtx, cancel := context.WithTimeout(ctx, lease-lease/10)
		if d.ChargeAttempts > 0 {
			// The last attempt's outcome is unknown: ask before posting.
			out, err = b.Status(callCtx, req)
			if err == nil && out.Outcome == NotCharged {
				out, err = b.Charge(callCtx, req)
			}
		} else {
			out, err = b.Charge(callCtx, req)
		}
		cancel()
	}
	learned := out.Outcome
	if err != nil || (learned != Charged && learned != ChargeDeclined) {
		learned = Unknown
	}
	s.observer().ChargeCalled(d.Carrier, learned, time.Since(began))
	if learned == Unknown {
		s.log().Warn("charge outcome unknown; will ask again", "donation", d.ID, "attempt", d.ChargeAttempts+1, "outcome", out.Outcome, "err", err)
		return false, s.retryCharge(ctx, d)
	}
	fees, err := s.Carriers.Fees(d.Carrier)
	if err != nil {
		return false, fmt.Errorf("charge %s: fees: %w", d.ID, err)
	}
	var (
		res  Result
		from State
	)
	err = s.Store.Update(ctx, d.Phone, func(tx Tx) error {
		res = Result{}
		cur, err := tx.Donation(ctx, d.ID)
		if err != nil {
			return err
		}
		if cur.Status != Open || cur.ChargePostedAt.IsZero() {
			return nil // another worker recorded it first
		}
		sub, err := tx.Subscriber(ctx, cur.Phone, cur.ShortCode)
		if err != nil {
			return err
		}
		from = sub.State
		in, err := s.input(ctx, tx, nil, sub)
		if err != nil {
			return err
		}
		if res, err = Settle(in, p, cur, out, fees); err != nil {
			return err
		}
		return tx.Apply(ctx, res, in.Now, "")
	})
	if err != nil {
		return false, fmt.Errorf("charge %s: record outcome: %w", d.ID, err)
	}
	if len(res.Donations) == 0 {
		return false, nil
	}
	s.after(from, res)
	return true, nil
}

// claimCharge takes the next attempt at d's charge for this server, so that
// another server does not call the carrier about it at the same time (the
// shared correlator would make that harmless, but it is wasted work and
// noise at the carrier). It returns the donation as stored.
func (s *Service) claimCharge(ctx context.Context, d Donation) (Donation, bool, error) {
	lease := s.chargeLease()
	claimed := false
	err := s.Store.Update(ctx, d.Phone, func(tx Tx) error {
		cur, err := tx.Donation(ctx, d.ID)
		if err != nil {
			return err
		}
		now := s.now()
		if cur.Status != Open || cur.ChargePostedAt.IsZero() || cur.NextChargeAt.After(now) {
			return nil // settled, or another server's attempt or backoff
		}
		cur.NextChargeAt = now.Add(lease)
		d, claimed = cur, true
		return tx.Apply(ctx, Result{Donations: []Donation{cur}}, now, "")
	})
	if err != nil {
		return d, false, fmt.Errorf("charge %s: claim: %w", d.ID, err)
	}
	return d, claimed, nil
}

func (s *Service) chargeLease() time.Duration {
	if s.ChargeLease > 0 {
		return s.ChargeLease
	}
	return 30 * time.Second
}

// retryCharge counts an attempt whose outcome is unknown and schedules the
// next, with exponential backoff and jitter.
func (s *Service) retryCharge(ctx context.Context, d Donation) error {
	base := s.ChargeBackoff
	if base <= 0 {
		base = time.Second
	}
	return s.Store.Update(ctx, d.Phone, func(tx Tx) error {
		cur, err := tx.Donation(ctx, d.ID)
		if err != nil {
			return err
		}
		if cur.Status != Open || cur.ChargePostedAt.IsZero() {
			return nil
		}
		cur.ChargeAttempts++
		cur.NextChargeAt = s.now().Add(s.jitter(base<<min(cur.ChargeAttempts-1, 12), 5*time.Minute))
		return tx.Apply(ctx, Result{Donations: []Donation{cur}}, s.now(), "")
	})
}

// SendPending hands due outbox MTs to the gateway, Senders at once, and
// returns how many the gateway took. The outbox gives at most one MT per
// number at a time, so a number's texts go out in order: an MT that fails
// waits with backoff, and the later ones wait behind it.
//
// Every gateway call about an MT ends before the MT's claim does. An
// attempt whose outcome is unknown (a timeout, or a server that died
// between the gateway's answer and MarkSent) leaves the MT marked, and the
// next attempt first looks for it in the gateway's message list: a text is
// never sent twice because its first answer was lost (SPEC §12.1).
func (s *Service) SendPending(ctx context.Context) (int, error) {
	now := s.now()
	workers := s.senders()
	mts, err := s.Outbox.PendingMTs(ctx, now, 4*workers, s.sendLease())
	if err != nil {
		return 0, fmt.Errorf("pending mts: %w", err)
	}
	var (
		mu   sync.Mutex
		sent int
		errs []error
		wg   sync.WaitGroup
		sem  = make(chan struct{}, workers)
	)
	for _, m := range mts {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			ok, err := s.sendOne(ctx, m, s.markSent)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
			}
			if ok {
				sent++
			}
		}()
	}
	wg.Wait()
	return sent, errors.Join(errs...)
}

func (s *Service) senders() int {
	if s.Senders > 0 {
		return s.Senders
	}
	return 32
}

// sendLoop is Run's outbox worker. It keeps up to Senders sends under way
// and claims more as soon as one ends, rather than sending a batch and
// waiting for its slowest send: a reply never waits behind another
// number's slow send. A number's next MT is claimable only once its
// previous one is marked, so each number's texts still go one at a time
// and in order.
func (s *Service) sendLoop(ctx context.Context, every time.Duration) {
	n := s.senders()
	done := make(chan struct{}, n) // one per send under way: never blocks
	marks := newSentMarks(s.Outbox, s.now)
	marking, stopMarking := context.WithCancel(context.WithoutCancel(ctx))
	go marks.run(marking)
	var wg sync.WaitGroup
	defer func() {
		wg.Wait() // every send has its mark written, or gave up on it
		stopMarking()
	}()
	t := time.NewTicker(every)
	defer t.Stop()
	busy := 0
	for {
		if busy < n {
			mts, err := s.Outbox.PendingMTs(ctx, s.now(), n-busy, s.sendLease())
			if err != nil && ctx.Err() == nil {
				s.log().Error("send", "err", err)
			}
			for _, m := range mts {
				busy++
				wg.Add(1)
				go func() {
					defer wg.Done()
					if _, err := s.sendOne(ctx, m, marks.mark); err != nil && ctx.Err() == nil {
						s.log().Error("send", "err", err)
					}
					done <- struct{}{}
				}()
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-done:
			busy--
			// Claim once for every send that has ended by now.
			for drained := false; !drained; {
				select {
				case <-done:
					busy--
				default:
					drained = true
				}
			}
		case <-s.sendWake:
		case <-t.C:
		}
	}
}

func (s *Service) sendLease() time.Duration {
	if s.SendLease > 0 {
		return s.SendLease
	}
	return 30 * time.Second
}

func (s *Service) sendTimeout() time.Duration {
	if s.SendTimeout > 0 {
		return s.SendTimeout
	}
	return 10 * time.Second
}

// callContext bounds a gateway call about a claimed MT: SendTimeout, and
// never past a tenth of the lease before the claim ends, so that the call
// is over before another server may take the MT. ok is false when too
// little of the claim is left to make a call at all.
func (s *Service) callContext(ctx context.Context, until time.Time) (context.Context, context.CancelFunc, bool) {
	left := until.Sub(s.now()) - s.sendLease()/10
	if left < 100*time.Millisecond {
		return ctx, func() {}, false
	}
	c, cancel := context.WithTimeout(ctx, min(left, s.sendTimeout()))
	return c, cancel, true
}

// markSent records one MT the gateway took, alone.
func (s *Service) markSent(ctx context.Context, id, sid string) error {
	gone, err := s.Outbox.MarkAllSent(ctx, []SentMT{{ID: id, SID: sid}}, s.now())
	if err == nil && len(gone) > 0 {
		err = fmt.Errorf("mt %s: %w", id, ErrNotFound)
	}
	return err
}

// sendOne makes one attempt at a claimed MT and records its outcome;
// markSent records the gateway's acceptance.
func (s *Service) sendOne(ctx context.Context, m OutboxMT, markSent func(ctx context.Context, id, sid string) error) (bool, error) {
	attempted := func(outcome MTOutcome) {
		s.observer().MTAttempted(outcome, s.now().Sub(m.CreatedAt))
	}
	if m.Unknown {
		sid, err := s.resolve(ctx, m)
		switch {
		case err != nil:
			attempted(MTRetry)
			s.log().Warn("mt outcome unknown and not found out; will ask again", "mt", m.ID, "to", compliance.MaskPhone(m.MT.To), "err", err)
			return false, s.mark(ctx, m, "retry", s.Outbox.MarkRetry(ctx, m.ID, err.Error(), s.now().Add(s.backoff(m.Attempts)), true))
		case sid != "":
			attempted(MTSent)
			return true, s.mark(ctx, m, "sent", markSent(ctx, m.ID, sid))
		}
	}
	if m.Cancel {
		// Not at the gateway, and the number opted out since: never sent.
		s.log().Info("mt to an opted-out number not found at the gateway; cancelled", "mt", m.ID, "to", compliance.MaskPhone(m.MT.To))
		return false, s.mark(ctx, m, "cancelled", s.Outbox.MarkCancelled(ctx, m.ID, s.now()))
	}
	callCtx, cancel, ok := s.callContext(ctx, m.ClaimedUntil)
	if !ok {
		return false, nil // the claim runs out; whoever takes it next resolves it first
	}
	sid, err := s.Sender.Send(callCtx, m.MT)
	cancel()
	switch {
	case err == nil:
		attempted(MTSent)
		return true, s.mark(ctx, m, "sent", markSent(ctx, m.ID, sid))
	case errors.Is(err, ErrUnsubscribed):
		attempted(MTFailed)
		if err := s.mark(ctx, m, "failed", s.Outbox.MarkFailed(ctx, m.ID, err.Error(), s.now())); err != nil {
			return false, err
		}
		return false, s.gatewayOptOut(ctx, m.MT)
	case errors.Is(err, ErrRejected):
		attempted(MTFailed)
		s.log().Error("gateway rejected mt", "mt", m.ID, "to", compliance.MaskPhone(m.MT.To), "err", err)
		return false, s.mark(ctx, m, "failed", s.Outbox.MarkFailed(ctx, m.ID, err.Error(), s.now()))
	default:
		attempted(MTRetry)
		unknown := !errors.Is(err, ErrNotSent)
		s.log().Warn("mt not accepted; will retry", "mt", m.ID, "to", compliance.MaskPhone(m.MT.To),
			"attempt", m.Attempts+1, "outcome_unknown", unknown, "err", err)
		return false, s.mark(ctx, m, "retry", s.Outbox.MarkRetry(ctx, m.ID, err.Error(), s.now().Add(s.backoff(m.Attempts)), unknown))
	}
}

// resolve looks for an MT whose last attempt's outcome is unknown in the
// gateway's message list, and returns its message id if the gateway took
// it. Messages already recorded for another MT (an identical text sent
// earlier) do not count. Because a number's MTs go one at a time, every
// earlier MT to the number has its outcome recorded by now.
func (s *Service) resolve(ctx context.Context, m OutboxMT) (string, error) {
	callCtx, cancel, ok := s.callContext(ctx, m.ClaimedUntil)
	if !ok {
		return "", errors.New("claim ran out before the gateway could be asked")
	}
	defer cancel()
	// A minute's margin for the gateway's clock and its whole-second dates.
	sids, err := s.Sender.Sent(callCtx, m.MT, m.CreatedAt.Add(-time.Minute))
	if err != nil || len(sids) == 0 {
		return "", err
	}
	known, err := s.Outbox.KnownSIDs(ctx, sids)
	if err != nil {
		return "", err
	}
	for _, sid := range sids {
		if !known[sid] {
			s.log().Info("mt found at the gateway; not sending it again", "mt", m.ID, "to", compliance.MaskPhone(m.MT.To), "sid", sid)
			return sid, nil
		}
	}
	return "", nil
}

// mark reports a failed outbox update. An MT cancelled meanwhile (its
// number opted out) is not an error.
func (s *Service) mark(_ context.Context, m OutboxMT, what string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, ErrNotFound) {
		s.log().Info("mt left the queue meanwhile", "mt", m.ID, "mark", what)
		return nil
	}
	return fmt.Errorf("mt %s: mark %s: %w", m.ID, what, err)
}

// backoff grows from half a second to five minutes, with jitter so many
// failed MTs do not retry in step.
func (s *Service) backoff(attempts int) time.Duration {
	return s.jitter(500*time.Millisecond<<min(attempts, 10), 5*time.Minute)
}

// jitter returns a duration between half of min(d, limit) and all of it.
// It draws from Jitter when set.
func (s *Service) jitter(d, limit time.Duration) time.Duration {
	d = min(d, limit)
	if s.Jitter == nil {
		return d/2 + time.Duration(mrand.Int64N(int64(d/2)+1))
	}
	s.jitterMu.Lock()
	defer s.jitterMu.Unlock()
	return d/2 + time.Duration(s.Jitter.Int64N(int64(d/2)+1))
}

// gatewayOptOut records an opt-out the gateway told us about (Twilio 21610):
// the donor opted out there, so nothing more may be sent.
func (s *Service) gatewayOptOut(ctx context.Context, mt MT) error {
	var (
		res  Result
		from State
	)
	err := s.Store.Update(ctx, mt.To, func(tx Tx) error {
		res = Result{}
		sub, err := tx.Subscriber(ctx, mt.To, mt.From)
		if err != nil {
			return err
		}
		if sub.OptedOut {
			return nil
		}
		from = sub.State
		in, err := s.input(ctx, tx, nil, sub)
		if err != nil {
			return err
		}
		st := newStep(in)
		if err := st.revoke(ConsentEvent{Text: "gateway: recipient unsubscribed"}); err != nil {
			return err
		}
		res = st.result()
		return tx.Apply(ctx, res, in.Now, "")
	})
	if err != nil || res.Consent == nil {
		return err
	}
	s.after(from, res)
	return nil
}

// Run starts the charge, timer and outbox workers and blocks until ctx is
// done.
func (s *Service) Run(ctx context.Context) {
	s.Start()
	poll := s.Poll
	if poll <= 0 {
		poll = time.Second
	}
	done := make(chan struct{}, 3)
	loop := func(name string, wakeup chan struct{}, every time.Duration, work func(context.Context) (int, error)) {
		defer func() { done <- struct{}{} }()
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			if _, err := work(ctx); err != nil && ctx.Err() == nil {
				s.log().Error(name, "err", err)
			}
			select {
			case <-ctx.Done():
				return
			case <-wakeup:
			case <-t.C:
			}
		}
	}
	go loop("charge", s.chargeWake, poll, s.ChargePending)
	go func() {
		defer func() { done <- struct{}{} }()
		s.sendLoop(ctx, poll)
	}()
	go loop("expire", nil, poll*5, s.ExpireDue)
	for range 3 {
		<-done
	}
}

// Start prepares the wake-up channels; Run calls it, tests that drive the
// workers by hand may too.
func (s *Service) Start() {
	if s.chargeWake == nil {
		s.chargeWake = make(chan struct{}, 1)
		s.sendWake = make(chan struct{}, 1)
	}
}
