package donation_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shortcode/shortcode/compliance"
	"github.com/shortcode/shortcode/donation"
	"github.com/shortcode/shortcode/donation/donationtest"
	"github.com/shortcode/shortcode/storage"
	"github.com/shortcode/shortcode/storage/storagetest"
)

// reach drives a fresh subscriber into a state of the conversation.
var reach = map[donation.State][]string{
	donation.Idle:           nil,
	donation.ChoosingAmount: {"GIVE"},
	donation.Confirming:     {"GIVE 10"},
	donation.Certifying:     {"GIVE 10", "YES"}, // separate mode
	donation.VerifyingPIN:   {"GIVE 10", "YES", "YES"},
	donation.Charging:       {"GIVE 10", "YES", "YES", "{pin}"},
}

func drive(h *harness, phone string, st donation.State) {
	h.t.Helper()
	for _, m := range reach[st] {
		h.send(phone, strings.ReplaceAll(m, "{pin}", h.pins[phone]))
	}
	if got := h.subscriber(phone).State; got != st {
		h.t.Fatalf("drove to %s, got %s", st, got)
	}
}

func separate(p *compliance.Program) { p.Mode = compliance.Separate }

// TestStopFromEveryState: SPEC §4.2 "any | STOP family" and §10 (4).
func TestStopFromEveryState(t *testing.T) {
	words := []string{"STOP", "STOPALL", "STOP ALL", "END", "CANCEL", "UNSUBSCRIBE", "UNSUB", "QUIT", "REVOKE", "OPT OUT", "OPTOUT", "stop.", " Quit! "}
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		h := newHarness(t, db, separate)
		const stopText = "you are unsubscribed and will get no more messages"
		n := 0
		for st := range reach {
			for _, w := range words {
				n++
				phone := fmt.Sprintf("+1212555%04d", n)
				drive(h, phone, st)
				mts := h.send(phone, w)
				if len(mts) != 1 || !strings.Contains(mts[0], stopText) {
					t.Errorf("%s in %s: got %q, want one opt-out confirmation", w, st, mts)
				}
				sub := h.subscriber(phone)
				if !sub.OptedOut || sub.State != donation.Idle || sub.DonationID != "" {
					t.Errorf("%s in %s: subscriber %+v", w, st, sub)
				}
				for _, d := range h.donations(phone) {
					want := donation.Cancelled
					if st == donation.Charging {
						want = donation.Open // a posted charge runs to its end
					}
					if d.Status != want {
						t.Errorf("%s in %s: donation %s, want %s", w, st, d.Status, want)
					}
				}
				// Then nothing more: not for STOP again, other text, an amount or the
				// PIN (YES, START or a keyword would opt back in).
				for _, m := range []string{"STOP", "hello", "10", h.pins[phone]} {
					if mts := h.send(phone, m); len(mts) != 0 {
						t.Errorf("after %s in %s, %q got %q", w, st, m, mts)
					}
				}
				h.charge()
				if mts := h.mts(phone); len(mts) != 0 {
					t.Errorf("after %s in %s, the charge outcome sent %q", w, st, mts)
				}
			}
		}
	})
}

// TestHelpFromEveryState: SPEC §4.2 "any | HELP, INFO": state and timers unchanged.
func TestHelpFromEveryState(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		h := newHarness(t, db, separate)
		n := 0
		for st := range reach {
			for _, w := range []string{"HELP", "INFO", "help?", "Info."} {
				n++
				phone := fmt.Sprintf("+1212555%04d", n)
				drive(h, phone, st)
				before := h.subscriber(phone)
				ds := h.donations(phone)
				mts := h.send(phone, w)
				if len(mts) != 1 || !strings.Contains(mts[0], "text gifts, up to $50/mo") {
					t.Errorf("%s in %s: got %q", w, st, mts)
				}
				if after := h.subscriber(phone); after != before {
					t.Errorf("%s in %s changed the subscriber: %+v -> %+v", w, st, before, after)
				}
				after := h.donations(phone)
				if len(after) != len(ds) || (len(ds) > 0 && after[len(ds)-1] != ds[len(ds)-1]) {
					t.Errorf("%s in %s changed the donation", w, st)
				}
			}
		}
		// HELP is answered while opted out too, and does not opt back in.
		phone := "+12125559999"
		h.send(phone, "STOP")
		if mts := h.send(phone, "HELP"); len(mts) != 1 {
			t.Errorf("HELP while opted out: %q", mts)
		}
		if !h.subscriber(phone).OptedOut {
			t.Error("HELP opted the number back in")
		}
	})
}

// TestReplayedMO: SPEC §10 (5): a gateway retry of the same message id
// changes nothing and sends nothing twice.
func TestReplayedMO(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		h := newHarness(t, db, nil)
		phone := "+12125550100"
		mo := donation.MO{Gateway: "twilio", MessageID: "SM00000000000000000000000000000001", From: phone, To: shortCode, Body: "GIVE 10"}
		if err := h.svc.HandleMO(h.ctx, mo); err != nil {
			t.Fatal(err)
		}
		first := h.mts(phone)
		sub := h.subscriber(phone)
		for range 3 {
			if err := h.svc.HandleMO(h.ctx, mo); !errors.Is(err, donation.ErrDuplicate) {
				t.Fatalf("replay: got %v, want ErrDuplicate", err)
			}
		}
		if again := h.mts(phone); len(first) != 1 || len(again) != 0 {
			t.Errorf("MTs first %q, after replays %q", first, again)
		}
		if got := h.subscriber(phone); got != sub {
			t.Errorf("replay changed the subscriber: %+v -> %+v", sub, got)
		}
		if ds := h.donations(phone); len(ds) != 1 {
			t.Errorf("replay made %d donations", len(ds))
		}
	})
}

// TestBadInput: invalid numbers and unknown short codes are refused with an
// error the gateway maps to 4xx, and nothing is stored.
func TestBadInput(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		h := newHarness(t, db, nil)
		cases := []struct {
			name string
			mo   donation.MO
			want error
		}{
			{"invalid number", donation.MO{From: "+15555550100", To: shortCode, Body: "GIVE"}, nil},
			{"garbage number", donation.MO{From: "'; DROP TABLE", To: shortCode, Body: "GIVE"}, nil},
			{"unknown short code", donation.MO{From: "+12125550100", To: "99999", Body: "GIVE"}, donation.ErrUnknownShortCode},
		}
		for i, c := range cases {
			c.mo.Gateway, c.mo.MessageID = "test", fmt.Sprintf("SMbad%d", i)
			err := h.svc.HandleMO(h.ctx, c.mo)
			if k := donation.KindOf(err); k != donation.Invalid && k != donation.NotFound {
				t.Errorf("%s: got %v (%v), want a bad-input error", c.name, err, k)
			}
			if c.want != nil && !errors.Is(err, c.want) {
				t.Errorf("%s: got %v, want %v", c.name, err, c.want)
			}
		}
		if n, err := db.MOCount(h.ctx); err != nil || n != 0 {
			t.Errorf("stored %d MOs (%v), want none", n, err)
		}
	})
}

// TestBadNumberHidden: SPEC §11. The error for an invalid From, which the
// webhook logs, shows the number masked, never in full.
func TestBadNumberHidden(t *testing.T) {
	var logs strings.Builder
	svc := &donation.Service{Log: slog.New(slog.NewTextHandler(&logs, nil))}
	for _, from := range []string{"+12215550174", "+12015550123 ext. 7", "+1201555012345678"} {
		err := svc.HandleMO(context.Background(), donation.MO{
			Gateway: "test", MessageID: "SMbad", From: from, To: shortCode, Body: "GIVE",
		})
		if donation.KindOf(err) != donation.Invalid {
			t.Fatalf("From %q: got %v, want an Invalid error", from, err)
		}
		digits := strings.TrimPrefix(from, "+")[:10]
		if strings.Contains(err.Error(), digits) || strings.Contains(logs.String(), digits) {
			t.Errorf("From %q: the number shows in the error %q or the log %q", from, err, logs.String())
		}
		if !strings.Contains(err.Error(), compliance.MaskPhone(from)) {
			t.Errorf("From %q: error %q lacks the masked number", from, err)
		}
	}
}

// TestConcurrentMOs: SPEC §10 (2) and §5.3. 50 MOs for one number at once,
// across two short codes of one committee, leave one consistent state per
// subscriber and never pass a cap.
func TestConcurrentMOs(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		h := newHarness(t, db, nil)
		h.secondShortCode()
		h.svc.RateLimit = 1000 // 50 MOs in a second: the lock, not the limit, is under test
		phone := "+12125550100"
		// $40 given already: $10 left this month.
		h.give(phone, 20)
		h.give(phone, 20)

		var wg sync.WaitGroup
		errs := make(chan error, 50)
		for i := range 50 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				to := []string{shortCode, "62263"}[i%2]
				body := []string{"GIVE 10", "YES", "GIVE 5", "10"}[i%4]
				errs <- h.svc.HandleMO(context.Background(), donation.MO{
					Gateway: "test", MessageID: fmt.Sprintf("SMconc%04d", i), From: phone, To: to, Body: body,
				})
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Errorf("concurrent MO: %v", err)
			}
		}
		var counted int64
		for _, d := range h.donations(phone) {
			if d.Status == donation.Completed || d.Reserved() {
				counted += d.Amount
			}
		}
		if counted > 5000 {
			t.Errorf("completed + reserved = %d cents, over the $50 month cap", counted)
		}
		// Each subscriber points at most at one open donation, and every
		// open donation is some subscriber's.
		open := map[string]bool{}
		for _, d := range h.donations(phone) {
			if d.Status == donation.Open {
				open[d.ID] = true
			}
		}
		for _, sc := range []string{shortCode, "62263"} {
			var sub donation.Subscriber
			db.Update(h.ctx, phone, func(tx donation.Tx) error {
				var err error
				sub, err = tx.Subscriber(h.ctx, phone, sc)
				return err
			})
			if sub.DonationID != "" {
				if !open[sub.DonationID] {
					t.Errorf("subscriber on %s points at %s, which is not open", sc, sub.DonationID)
				}
				delete(open, sub.DonationID)
			}
		}
		if len(open) != 0 {
			t.Errorf("open donations no subscriber points at: %v", open)
		}
		h.checkInvariants(phone)
	})
}

// TestTwoShortCodesShareTheCap: an open reservation on one short code
// counts against a request on another short code of the same committee.
func TestTwoShortCodesShareTheCap(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		h := newHarness(t, db, nil)
		h.secondShortCode()
		phone := "+12125550100"
		h.give(phone, 20)
		h.send(phone, "GIVE 20") // reserved on 62262: $40 counted
		h.seq++
		err := h.svc.HandleMO(h.ctx, donation.MO{Gateway: "test", MessageID: "SMother", From: phone, To: "62263", Body: "GIVE 15"})
		if err != nil {
			t.Fatal(err)
		}
		mts, _ := db.MTs(h.ctx, phone)
		last := mts[len(mts)-1].MT.Body
		if !strings.Contains(last, "you can give up to $10 more") {
			t.Errorf("second short code: got %q, want the $10 remaining allowance", last)
		}
	})
}

// TestMonthCapAcrossMidnight: SPEC §5.3 and §10 (2), strict mode off. A
// request reserved before midnight may be certified, and so dated, after
// it: requests on another short code of the committee after midnight must
// leave room for it in the new month.
func TestMonthCapAcrossMidnight(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		loc, err := time.LoadLocation("America/Chicago")
		if err != nil {
			t.Fatal(err)
		}
		calendarMonths := func(p *compliance.Program) {
			p.Committee.TimeZone = loc.String()
			p.Limits.Rolling = false
		}
		h := newHarness(t, db, calendarMonths)
		h.secondShortCode(calendarMonths)
		const other = "62263"
		phone := "+12125550100"

		// 23:40 on March 31 in the committee's zone: $20 reserved on
		// 62262, open until 00:40.
		h.clock.Set(time.Date(2027, 3, 31, 23, 40, 0, 0, loc))
		if mts := h.send(phone, "GIVE 20"); len(mts) != 1 || !strings.Contains(mts[0], "Reply YES to give $20") {
			t.Fatalf("GIVE 20 on %s: %q", shortCode, mts)
		}

		// After midnight, $20 on 62263 fits whatever date the first
		// request takes; a second $20 does not.
		h.clock.Set(time.Date(2027, 4, 1, 0, 5, 0, 0, loc))
		h.sendTo(phone, other, "GIVE 20")
		h.sendTo(phone, other, "YES")
		h.sendTo(phone, other, h.pins[phone])
		h.charge()
		h.mts(phone) // the receipt
		mts := h.sendTo(phone, other, "GIVE 20")
		if len(mts) != 1 || !strings.Contains(mts[0], "you can give up to $10 more") {
			t.Errorf("second $20 on %s after midnight: got %q, want the $10 remaining allowance", other, mts)
			if len(mts) == 1 && strings.Contains(mts[0], "Reply YES") {
				h.sendTo(phone, other, "YES")
				h.sendTo(phone, other, h.pins[phone])
				h.charge()
			}
		}

		// YES and PIN on 62262 complete the first request in April.
		h.send(phone, "YES")
		h.send(phone, h.pins[phone])
		h.charge()
		var april int64
		for _, d := range h.donations(phone) {
			if d.Status == donation.Completed && d.ReceivedAt.In(loc).Month() == time.April {
				april += d.Amount
			}
		}
		if april != 4000 {
			t.Errorf("completed in April: %d cents, want 4000 (the $50 cap leaves no room for a third $20)", april)
		}
		h.checkInvariants(phone)
	})
}

// TestCapsCheckedAgainAtYes: a reservation that escaped the check of its
// span (an older server admitted gifts in April while it was open) is
// checked again as the YES dates it, and ends with the limit text.
func TestCapsCheckedAgainAtYes(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		loc, err := time.LoadLocation("America/Chicago")
		if err != nil {
			t.Fatal(err)
		}
		h := newHarness(t, db, func(p *compliance.Program) {
			p.Committee.TimeZone = loc.String()
			p.Limits.Rolling = false
		})
		phone := "+12125550100"
		h.clock.Set(time.Date(2027, 3, 31, 23, 40, 0, 0, loc))
		h.send(phone, "GIVE 20")
		april := time.Date(2027, 4, 1, 0, 5, 0, 0, loc)
		var gifts []donation.Donation
		for i := range 2 {
			gifts = append(gifts, donation.Donation{
				ID: fmt.Sprintf("legacy%d", i), ProgramID: "demo", CommitteeID: "C99999999",
				Phone: phone, ShortCode: shortCode, Amount: 2000, Status: donation.Completed,
				CreatedAt: april, ReservedAt: april, ReceivedAt: april, FinishedAt: april,
			})
		}
		err = db.Update(h.ctx, phone, func(tx donation.Tx) error {
			return tx.Apply(h.ctx, donation.Result{Donations: gifts}, april, "")
		})
		if err != nil {
			t.Fatal(err)
		}
		h.clock.Set(time.Date(2027, 4, 1, 0, 10, 0, 0, loc))
		if mts := h.send(phone, "YES"); len(mts) != 1 || !strings.Contains(mts[0], "reached the text-giving limit") {
			t.Errorf("YES: got %q, want the limit text", mts)
		}
		for _, d := range h.donations(phone) {
			if d.Status == donation.Open || (d.Status == donation.Cancelled && (d.Reserved() || !d.CertifiedAt.IsZero())) {
				t.Errorf("donation %s: %+v", d.ID, d)
			}
		}
		if sub := h.subscriber(phone); sub.State != donation.Idle || sub.DonationID != "" {
			t.Errorf("subscriber %+v, want idle", sub)
		}
		if certs, _ := db.Certifications(h.ctx); len(certs) != 0 {
			t.Errorf("%d certifications recorded, want none", len(certs))
		}
	})
}

// TestReceivedNotBeforeReserved: a YES handled on a server whose clock is
// behind the one that reserved dates the gift at the reservation, inside
// the span the caps were checked for.
func TestReceivedNotBeforeReserved(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		h := newHarness(t, db, nil)
		phone := "+12125550100"
		h.send(phone, "GIVE 10")
		h.clock.Advance(-time.Minute)
		h.send(phone, "YES")
		d := h.donations(phone)[0]
		if d.ReservedAt.IsZero() || !d.ReceivedAt.Equal(d.ReservedAt) || !d.CertifiedAt.Before(d.ReservedAt) {
			t.Errorf("reserved %v, received %v, certified %v; want received at the reservation", d.ReservedAt, d.ReceivedAt, d.CertifiedAt)
		}
	})
}

// secondShortCode adds the demo program on short code 62263, for the same
// committee (AO 2012-30 allows shared and several short codes), after
// edits; the committee's settings are those of the last program saved.
func (h *harness) secondShortCode(edits ...func(*compliance.Program)) {
	h.t.Helper()
	second := compliance.DemoProgram("https://sc.example")
	for _, edit := range edits {
		edit(&second)
	}
	second.ID, second.ShortCode = "demo2", "62263"
	if err := h.db.SaveProgram(h.ctx, second); err != nil {
		h.t.Fatal(err)
	}
}

// TestDeactivatedProgram: a deactivated program takes no new donations and
// ends an open request without a charge, while STOP and HELP still work on
// its short code.
func TestDeactivatedProgram(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		h := newHarness(t, db, nil)
		phone := "+12125550100"
		h.send(phone, "GIVE 10")
		off := compliance.DemoProgram("https://sc.example")
		off.Active = false
		if err := db.SaveProgram(h.ctx, off); err != nil {
			t.Fatal(err)
		}
		if mts := h.send(phone, "YES"); len(mts) != 0 {
			t.Errorf("YES to a deactivated program got %q", mts)
		}
		if ds := h.donations(phone); len(ds) != 1 || ds[0].Status != donation.Cancelled || ds[0].Reserved() {
			t.Errorf("open request of a deactivated program: %+v", ds)
		}
		if mts := h.send(phone, "GIVE 10"); len(mts) != 0 || len(h.donations(phone)) != 1 {
			t.Errorf("keyword of a deactivated program: %q", mts)
		}
		if mts := h.send(phone, "HELP"); len(mts) != 1 {
			t.Errorf("HELP on a deactivated program's short code: %q", mts)
		}
		if mts := h.send(phone, "STOP"); len(mts) != 1 || !h.subscriber(phone).OptedOut {
			t.Errorf("STOP on a deactivated program's short code: %q", mts)
		}
	})
}

// TestRateLimit: SPEC §11: over 20 MOs a minute from one number are recorded
// but not answered; STOP is honoured whatever the rate.
func TestRateLimit(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		h := newHarness(t, db, nil)
		phone := "+12125550100"
		answered := 0
		for range 25 {
			answered += len(h.send(phone, "HELP"))
			h.clock.Advance(-time.Second) // 25 MOs within the same second
		}
		if answered != 20 {
			t.Errorf("%d of 25 HELPs answered, want 20", answered)
		}
		if n, _ := db.MOCount(h.ctx); n != 25 {
			t.Errorf("%d MOs recorded, want all 25", n)
		}
		if mts := h.send(phone, "STOP"); len(mts) != 1 || !h.subscriber(phone).OptedOut {
			t.Errorf("STOP over the rate limit: %q", mts)
		}
		h.clock.Advance(time.Minute)
		h.send(phone, "START")
		if mts := h.send(phone, "HELP"); len(mts) != 1 {
			t.Errorf("HELP a minute later: %q", mts)
		}
	})
}

// gatedBiller holds every charge until the gate opens.
type gatedBiller struct {
	*donationtest.Carrier
	gate chan struct{}
}

func (g gatedBiller) Charge(ctx context.Context, req donation.ChargeRequest) (donation.ChargeResult, error) {
	<-g.gate
	return g.Carrier.Charge(ctx, req)
}

func (g gatedBiller) Biller(string) (donation.Biller, error) { return g, nil }

// TestChargeClaimedOnce: two servers' charge workers on one store call the
// carrier once for a donation: the first claims the attempt.
func TestChargeClaimedOnce(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		h := newHarness(t, db, nil)
		phone := "+12125550100"
		h.send(phone, "GIVE 10")
		h.send(phone, "YES")
		h.send(phone, h.pins[phone])
		gated := gatedBiller{Carrier: h.biller, gate: make(chan struct{})}
		servers := []*donation.Service{
			{Store: db, Outbox: db, Carriers: gated, Looker: h.looker, Clock: h.clock},
			{Store: db, Outbox: db, Carriers: gated, Looker: h.looker, Clock: h.clock},
		}
		done := make(chan int, 2)
		go func() {
			n, _ := servers[0].ChargePending(h.ctx)
			done <- n
		}()
		// The second server looks while the first one's call is held.
		for h.donations(phone)[0].NextChargeAt.IsZero() {
			time.Sleep(time.Millisecond)
		}
		n, err := servers[1].ChargePending(h.ctx)
		if err != nil || n != 0 {
			t.Errorf("second server: %d charged, %v; want it to leave the claimed attempt alone", n, err)
		}
		close(gated.gate)
		if n := <-done; n != 1 {
			t.Errorf("first server charged %d", n)
		}
		if n := h.biller.Calls(); n != 1 {
			t.Errorf("carrier called %d times, want 1", n)
		}
		h.checkInvariants(phone)
	})
}

// sender answers MTs as told per recipient: accepted, failing, or
// unsubscribed at the gateway. It keeps the messages it took, as a
// gateway's message list does; lost says how many of the next answers to
// lose after taking the message (a timeout after the gateway took it).
type sender struct {
	mu      sync.Mutex
	answers map[string]error
	sent    []donation.MT
	sids    []string
	lost    int
}

// newSender gives h's service a sender that takes every MT until told
// otherwise (its answers).
func newSender(h *harness) *sender {
	s := &sender{answers: map[string]error{}}
	h.svc.Sender = s
	return s
}

func (s *sender) Send(_ context.Context, mt donation.MT) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.answers[mt.To]; err != nil {
		return "", err
	}
	s.sent = append(s.sent, mt)
	sid := fmt.Sprintf("SM%032x", len(s.sent))
	s.sids = append(s.sids, sid)
	if s.lost > 0 {
		s.lost--
		return "", errors.New("gateway: timeout awaiting response headers")
	}
	return sid, nil
}

func (s *sender) Sent(_ context.Context, mt donation.MT, _ time.Time) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for i, m := range s.sent {
		if m.To == mt.To && m.From == mt.From && m.Body == mt.Body {
			out = append(out, s.sids[i])
		}
	}
	return out, nil
}

// copies counts the texts with body the gateway took for phone.
func (s *sender) copies(phone string) map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := map[string]int{}
	for _, m := range s.sent {
		if m.To == phone {
			n[m.Body]++
		}
	}
	return n
}

// TestSendPending: SPEC §12.1: MTs are sent from the outbox until accepted,
// in order per number (a failing MT holds the later ones back), and a
// gateway's 21610 (recipient unsubscribed) is recorded as an opt-out.
func TestSendPending(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		h := newHarness(t, db, nil)
		ok, flaky, gone := "+12125550101", "+12125550102", "+12125550103"
		for _, p := range []string{ok, flaky, gone} {
			h.send(p, "GIVE") // amount prompt
			h.send(p, "HELP") // help text
		}
		s := &sender{answers: map[string]error{
			flaky: errors.New("gateway 503"),
			gone:  fmt.Errorf("21610: %w", donation.ErrUnsubscribed),
		}}
		h.svc.Outbox, h.svc.Sender = db, s
		// One MT per number per round, so that each number's go in order.
		sent := 0
		for range 3 {
			n, err := h.svc.SendPending(h.ctx)
			if err != nil {
				t.Fatal(err)
			}
			sent += n
		}
		if sent != 2 {
			t.Fatalf("sent %d MTs, want the 2 to %s", sent, ok)
		}
		for _, mt := range s.sent {
			if mt.To != ok {
				t.Errorf("sent %q to %s", mt.Body, mt.To)
			}
		}
		if !h.subscriber(gone).OptedOut {
			t.Error("21610 did not opt the number out")
		}
		if ds := h.donations(gone); ds[0].Status != donation.Cancelled {
			t.Errorf("the unsubscribed number's request is %s, want cancelled", ds[0].Status)
		}
		recs, _ := db.OutboxRecords(h.ctx, flaky)
		if recs[0].Status != "pending" || recs[0].Attempts != 1 || recs[1].Attempts != 0 {
			t.Errorf("failing MTs: %+v", recs)
		}
		// The gateway recovers: the held MTs go out, oldest first.
		s.answers[flaky] = nil
		h.clock.Advance(time.Hour)
		for range 2 {
			if _, err := h.svc.SendPending(h.ctx); err != nil {
				t.Fatal(err)
			}
		}
		var order []string
		for _, mt := range s.sent {
			if mt.To == flaky {
				order = append(order, mt.Body[:20])
			}
		}
		if len(order) != 2 || !strings.HasPrefix(order[0], "Demo PAC: thanks") {
			t.Errorf("after recovery, sent to %s: %q", flaky, order)
		}
	})
}
