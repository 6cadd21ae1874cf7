package donation_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shortcode/shortcode/donation"
	"github.com/shortcode/shortcode/donation/donationtest"
	"github.com/shortcode/shortcode/storage"
	"github.com/shortcode/shortcode/storage/storagetest"
)

// sendAll runs the outbox worker until it has nothing more to do now.
func sendAll(h *harness) {
	h.t.Helper()
	for range 20 {
		if _, err := h.svc.SendPending(h.ctx); err != nil {
			h.t.Fatal(err)
		}
		recs, err := h.db.PendingCount(h.ctx, h.clock.Now())
		if err != nil {
			h.t.Fatal(err)
		}
		if recs == 0 {
			return
		}
	}
}

const stopText = "Demo PAC: you are unsubscribed"

// TestStopCancelsQueuedTexts: SPEC §10 (4). Texts queued before a STOP
// and not yet sent (the gateway was slow, or failing) are never sent after
// it, and the opt-out confirmation does not wait behind a failing text.
func TestStopCancelsQueuedTexts(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		h := newHarness(t, db, nil)
		s := newSender(h)

		// The gateway is paused: nothing is sent while these arrive.
		paused := "+12125550111"
		h.send(paused, "HELP")
		h.send(paused, "HELP")
		h.send(paused, "STOP")
		// A text that keeps failing, then STOP: the confirmation must go
		// out at once, not after the failing text's backoff.
		failing := "+12125550112"
		h.send(failing, "GIVE")
		s.answers[failing] = errors.New("gateway 503")
		if _, err := h.svc.SendPending(h.ctx); err != nil {
			t.Fatal(err)
		}
		s.answers[failing] = nil
		h.send(failing, "STOP")

		sendAll(h)
		for _, phone := range []string{paused, failing} {
			got := s.copies(phone)
			if len(got) != 1 {
				t.Errorf("%s got %v after STOP; want only the opt-out confirmation", phone, got)
			}
			for body := range got {
				if !strings.HasPrefix(body, stopText) {
					t.Errorf("%s got %q, want the opt-out confirmation", phone, body)
				}
			}
			recs, err := db.OutboxRecords(h.ctx, phone)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range recs[:len(recs)-1] {
				if r.Status != "cancelled" {
					t.Errorf("%s: text queued before STOP is %s: %q", phone, r.Status, r.MT.Body)
				}
			}
		}
	})
}

// TestOptedOutNumberGetsNothingQueued: the sender itself checks the
// opt-out, so a text queued for a number that has opted out (by any path)
// is cancelled, never sent; the opt-out confirmation is the exception.
func TestOptedOutNumberGetsNothingQueued(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		h := newHarness(t, db, nil)
		s := newSender(h)
		phone := "+12125550113"
		h.send(phone, "STOP")
		// A text written after the opt-out, as a careless code path would.
		err := db.Update(h.ctx, phone, func(tx donation.Tx) error {
			return tx.Apply(h.ctx, donation.Result{MTs: []donation.MT{{To: phone, From: shortCode, Body: "late text"}}}, h.clock.Now(), "")
		})
		if err != nil {
			t.Fatal(err)
		}
		sendAll(h)
		got := s.copies(phone)
		if len(got) != 1 || got["late text"] != 0 {
			t.Errorf("sent to an opted-out number: %v", got)
		}
		recs, _ := db.OutboxRecords(h.ctx, phone)
		if last := recs[len(recs)-1]; last.Status != "cancelled" || last.CancelledAt.IsZero() {
			t.Errorf("late text = %+v, want cancelled", last)
		}
	})
}

// TestSendOutcomeUnknown: SPEC §12.1. An MT the gateway took but whose
// answer was lost (a timeout) or never recorded (the server died between
// the answer and MarkSent) is found in the gateway's message list and
// never sent again; one the gateway never took is sent.
func TestSendOutcomeUnknown(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		h := newHarness(t, db, nil)
		s := newSender(h)

		// Timeouts after the gateway took the text.
		timedOut := "+12125550114"
		h.send(timedOut, "HELP")
		s.lost = 1
		sendAll(h)
		h.clock.Advance(time.Hour) // past any backoff
		sendAll(h)
		if got := s.copies(timedOut); len(got) != 1 || sum(got) != 1 {
			t.Errorf("timed-out HELP reply: gateway took %v, want one copy", got)
		}
		recs, _ := db.OutboxRecords(h.ctx, timedOut)
		if r := recs[0]; r.Status != "sent" || r.SID != s.sids[0] || r.InFlight {
			t.Errorf("timed-out MT = %+v, want sent as %s", r, s.sids[0])
		}

		// A crash between the gateway's answer and MarkSent: claim, send,
		// and never mark; another server takes over after the claim.
		crashed := "+12125550115"
		h.send(crashed, "HELP")
		h.send(crashed, "HELP") // an identical second reply must still go
		claimed, err := db.PendingMTs(h.ctx, h.clock.Now(), 10, time.Minute)
		if err != nil || len(claimed) != 1 {
			t.Fatalf("claim: %v, %v", claimed, err)
		}
		if _, err := s.Send(h.ctx, claimed[0].MT); err != nil {
			t.Fatal(err)
		}
		h.clock.Advance(time.Minute + time.Second)
		sendAll(h)
		help := claimed[0].MT.Body
		if got := s.copies(crashed); got[help] != 2 || len(got) != 1 {
			t.Errorf("after a crash between send and mark: gateway took %v, want the HELP reply twice (two HELPs)", got)
		}

		// A claim that ran out before its send: not at the gateway, so it
		// is sent once the claim is over.
		unsent := "+12125550116"
		h.send(unsent, "HELP")
		if _, err := db.PendingMTs(h.ctx, h.clock.Now(), 10, time.Minute); err != nil {
			t.Fatal(err)
		}
		h.clock.Advance(time.Minute + time.Second)
		sendAll(h)
		if got := s.copies(unsent); sum(got) != 1 {
			t.Errorf("abandoned claim: gateway took %v, want one copy", got)
		}
	})
}

func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// deadlineSender records the deadline of each call's context.
type deadlineSender struct {
	sender
	mu        sync.Mutex
	deadlines []time.Duration
}

func (d *deadlineSender) Send(ctx context.Context, mt donation.MT) (string, error) {
	dl, ok := ctx.Deadline()
	d.mu.Lock()
	if ok {
		d.deadlines = append(d.deadlines, time.Until(dl))
	} else {
		d.deadlines = append(d.deadlines, -1)
	}
	d.mu.Unlock()
	return d.sender.Send(ctx, mt)
}

// TestSendEndsBeforeItsClaim: a gateway call is bounded so that it ends
// before the claim on its MT does, whatever the configured send timeout:
// another server may then take the MT over without sending it twice.
func TestSendEndsBeforeItsClaim(t *testing.T) {
	db := storagetest.Open(t, storage.SQLite)
	h := newHarness(t, db, nil)
	s := &deadlineSender{sender: sender{answers: map[string]error{}}}
	h.svc.Sender = s
	h.svc.SendLease, h.svc.SendTimeout = 2*time.Second, time.Hour
	for i := range 5 {
		h.send(fmt.Sprintf("+1212555012%d", i), "HELP")
	}
	sendAll(h)
	if len(s.deadlines) != 5 {
		t.Fatalf("%d sends, want 5", len(s.deadlines))
	}
	for _, d := range s.deadlines {
		if d < 0 || d > 2*time.Second {
			t.Errorf("a send could run for %v, past its 2s claim", d)
		}
	}
}

// TestPINKeptSecret: SPEC §11. The PIN is stored as a keyed hash (not the
// bare SHA-256 of the donation id and PIN, which 10^6 guesses reverse),
// and the PIN text keeps neither PIN nor page token once the gateway took
// it.
func TestPINKeptSecret(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		h := newHarness(t, db, nil)
		s := newSender(h)
		phone := "+12125550117"
		h.send(phone, "GIVE 10")
		h.send(phone, "YES")
		pin := h.pins[phone]
		d := h.donations(phone)[0]
		if d.Token == "" || pin == "" {
			t.Fatalf("no PIN or token: %+v", d)
		}
		bare := sha256.Sum256([]byte(d.ID + ":" + pin))
		if d.PINHash == hex.EncodeToString(bare[:]) {
			t.Error("the PIN hash is an unkeyed SHA-256")
		}
		if !donation.CheckPIN(h.svc.PINKey, &d, pin) || donation.CheckPIN([]byte("another key of 32 bytes........."), &d, pin) {
			t.Error("CheckPIN does not depend on the key")
		}

		recs, _ := db.OutboxRecords(h.ctx, phone)
		pinText := recs[len(recs)-1]
		if !strings.Contains(pinText.MT.Body, pin) {
			t.Fatalf("queued PIN text %q lacks the PIN", pinText.MT.Body)
		}
		sendAll(h)
		if got := s.sent[len(s.sent)-1].Body; !strings.Contains(got, pin) || !strings.Contains(got, d.Token) {
			t.Errorf("the donor got %q, want the PIN and the link", got)
		}
		recs, _ = db.OutboxRecords(h.ctx, phone)
		kept := recs[len(recs)-1]
		if kept.Status != "sent" || strings.Contains(kept.MT.Body, pin) || strings.Contains(kept.MT.Body, d.Token) {
			t.Errorf("stored PIN text after sending = %q (%s); want PIN and token redacted", kept.MT.Body, kept.Status)
		}
		// The PIN still works: it is checked against the hash.
		h.send(phone, pin)
		h.charge()
		if got := h.donations(phone)[0].Status; got != donation.Completed {
			t.Errorf("donation %s after the PIN, want completed", got)
		}
	})
}

// deadlineBiller records how long each carrier call was allowed to run.
type deadlineBiller struct {
	*donationtest.Carrier
	mu   sync.Mutex
	left []time.Duration
}

func (d *deadlineBiller) Charge(ctx context.Context, req donation.ChargeRequest) (donation.ChargeResult, error) {
	left := time.Duration(-1)
	if dl, ok := ctx.Deadline(); ok {
		left = time.Until(dl)
	}
	d.mu.Lock()
	d.left = append(d.left, left)
	d.mu.Unlock()
	return d.Carrier.Charge(ctx, req)
}

func (d *deadlineBiller) Biller(string) (donation.Biller, error) { return d, nil }

// TestChargeCallEndsBeforeItsLease: a carrier call is bounded by the
// charge's lease, so a lease shorter than the carrier client's timeout
// cannot let a second server post while the first one's call still runs.
func TestChargeCallEndsBeforeItsLease(t *testing.T) {
	db := storagetest.Open(t, storage.SQLite)
	h := newHarness(t, db, nil)
	b := &deadlineBiller{Carrier: h.biller}
	h.svc.Carriers, h.svc.ChargeLease = b, 2*time.Second
	phone := "+12125550130"
	h.send(phone, "GIVE 10")
	h.send(phone, "YES")
	h.send(phone, h.pins[phone])
	h.charge()
	if len(b.left) != 1 || b.left[0] < 0 || b.left[0] > 2*time.Second {
		t.Errorf("carrier calls could run %v; want each bounded by the 2s lease", b.left)
	}
}

// holdSender takes every MT at once but those to one number, whose send
// hangs until released (or its call's context ends).
type holdSender struct {
	sender
	hold    string
	started chan struct{}
	release chan struct{}
	sentTo  chan string
}

func (g *holdSender) Send(ctx context.Context, mt donation.MT) (string, error) {
	if mt.To == g.hold {
		g.started <- struct{}{}
		select {
		case <-g.release:
		case <-ctx.Done():
			return "", ctx.Err()
		}
	}
	sid, err := g.sender.Send(ctx, mt)
	g.sentTo <- mt.To
	return sid, err
}

// TestSenderDoesNotWaitForTheSlowest: the running service's sender claims
// again as soon as a send ends, so a reply to one number goes out while a
// send to another still hangs at the gateway (a sender that sent a batch
// and waited for its slowest send would hold it back).
func TestSenderDoesNotWaitForTheSlowest(t *testing.T) {
	h := newHarness(t, storagetest.Open(t, storage.SQLite), nil)
	slow, fast := "+12125550131", "+12125550132"
	g := &holdSender{sender: sender{answers: map[string]error{}}, hold: slow,
		started: make(chan struct{}, 1), release: make(chan struct{}), sentTo: make(chan string, 16)}
	h.svc.Sender = g
	h.svc.SendLease, h.svc.SendTimeout = time.Minute, time.Minute
	h.send(slow, "HELP")

	ctx, cancel := context.WithCancel(h.ctx)
	stopped := make(chan struct{})
	go func() { h.svc.Run(ctx); close(stopped) }()
	defer func() { close(g.release); cancel(); <-stopped }()
	select {
	case <-g.started:
	case <-time.After(10 * time.Second):
		t.Fatal("the reply to the slow number was never sent")
	}

	h.send(fast, "HELP")
	select {
	case to := <-g.sentTo:
		if to != fast {
			t.Fatalf("sent to %s, want %s", to, fast)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the reply to another number waited behind a send that hangs")
	}
}

// TestOneConfirmationAfterAStaleOne: SPEC §10 (4). A STOP's confirmation
// claimed but never sent (its server died) is superseded by the next
// STOP's: after that STOP the number gets one confirmation, not both
// (found by the simulation, seed 2223).
func TestOneConfirmationAfterAStaleOne(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		h := newHarness(t, db, nil)
		s := newSender(h)
		phone := "+12125550141"
		h.send(phone, "STOP")
		// Claimed, then the server died before sending it.
		if claimed, err := db.PendingMTs(h.ctx, h.clock.Now(), 10, time.Minute); err != nil || len(claimed) != 1 {
			t.Fatalf("claim the first confirmation: %v, %v", claimed, err)
		}
		h.clock.Advance(2 * time.Minute)
		h.send(phone, "GIVE") // opted in again
		h.send(phone, "STOP")
		h.clock.Advance(2 * time.Minute)
		sendAll(h)
		var confirmations int
		for _, mt := range s.sent {
			if strings.HasPrefix(mt.Body, stopText) {
				confirmations++
			} else {
				t.Errorf("after the STOP, sent %q", mt.Body)
			}
		}
		if confirmations != 1 {
			t.Errorf("%d opt-out confirmations sent after the second STOP, want 1", confirmations)
		}
	})
}
