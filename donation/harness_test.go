package donation_test

import (
	"context"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/shortcode/shortcode/compliance"
	"github.com/shortcode/shortcode/donation"
	"github.com/shortcode/shortcode/donation/donationtest"
	"github.com/shortcode/shortcode/storage"
	"github.com/shortcode/shortcode/storage/storagetest"
)

// start is the harness's first instant: mid-month, mid-cycle.
var start = time.Date(2027, 3, 10, 15, 0, 0, 0, time.UTC)

// looker answers lookups: US postpaid on the test carrier unless told
// otherwise.
type looker struct {
	mu    sync.Mutex
	lines map[string]donation.Line
	fail  map[string]bool
}

func (l *looker) Lookup(_ context.Context, phone string) (donation.Line, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.fail[phone] {
		return donation.Line{}, errors.New("lookup: 503 Service Unavailable")
	}
	if line, ok := l.lines[phone]; ok {
		return line, nil
	}
	return donation.Line{Country: "US", Carrier: donationtest.DefaultCarrier, Type: donation.Postpaid}, nil
}

func (l *looker) set(phone, what string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	line := donation.Line{Country: "US", Carrier: donationtest.DefaultCarrier, Type: donation.Postpaid}
	switch what {
	case "fail":
		l.fail[phone] = true
		return
	case "CA":
		line.Country = "CA"
	case "unknown-carrier":
		line.Carrier = "NoSuchTel"
	default:
		line.Type = donation.LineType(what)
	}
	l.lines[phone] = line
}

// harness runs the service against a real store with a fixed clock, a
// seeded random source and a test biller.
type harness struct {
	t      testing.TB
	ctx    context.Context
	db     *storage.DB
	svc    *donation.Service
	clock  *donationtest.Clock
	biller *donationtest.Carrier
	looker *looker
	seq    int
	seen   map[string]int // MTs already read, per phone
	pins   map[string]string
}

const shortCode = "62262"

func newHarness(t testing.TB, db *storage.DB, edit func(*compliance.Program)) *harness {
	t.Helper()
	p := compliance.DemoProgram("https://sc.example")
	if edit != nil {
		edit(&p)
	}
	ctx := context.Background()
	if err := db.SaveProgram(ctx, p); err != nil {
		t.Fatalf("save program: %v", err)
	}
	h := &harness{
		t: t, ctx: ctx, db: db,
		clock:  donationtest.NewClock(start),
		biller: &donationtest.Carrier{Schedule: donation.Fees{CarrierBPS: 3000, AggregatorBPS: 500, AggregatorFixed: 10}},
		looker: &looker{lines: map[string]donation.Line{}, fail: map[string]bool{}},
		seen:   map[string]int{},
		pins:   map[string]string{},
	}
	h.svc = &donation.Service{
		Store: db, Outbox: db, Carriers: h.biller, Looker: h.looker, Clock: h.clock,
		ChargeBackoff: time.Nanosecond,
		Rand:          mrand.NewChaCha8([32]byte{1}),
		PINKey:        []byte("harness PIN key, 32 bytes long.."),
	}
	h.svc.Start()
	return h
}

// send delivers one MO to the harness's short code and returns the MTs it
// caused.
func (h *harness) send(phone, body string) []string {
	h.t.Helper()
	return h.sendTo(phone, shortCode, body)
}

// sendTo delivers one MO to short code to and returns the MTs it caused.
func (h *harness) sendTo(phone, to, body string) []string {
	h.t.Helper()
	h.seq++
	// Donors take a second to type; donations then sort by creation time.
	h.clock.Advance(time.Second)
	err := h.svc.HandleMO(h.ctx, donation.MO{
		Gateway: "test", MessageID: fmt.Sprintf("SM%032d", h.seq), From: phone, To: to, Body: body,
	})
	if err != nil {
		h.t.Fatalf("mo %q from %s: %v", body, phone, err)
	}
	return h.mts(phone)
}

var pinRE = regexp.MustCompile(`Your PIN is ([0-9]{6})`)

// mts returns the MTs written for phone since the last call.
func (h *harness) mts(phone string) []string {
	h.t.Helper()
	all, err := h.db.MTs(h.ctx, phone)
	if err != nil {
		h.t.Fatalf("mts: %v", err)
	}
	var out []string
	for _, m := range all[h.seen[phone]:] {
		out = append(out, m.MT.Body)
		if m := pinRE.FindStringSubmatch(m.MT.Body); m != nil {
			h.pins[phone] = m[1]
		}
	}
	h.seen[phone] = len(all)
	return out
}

func (h *harness) subscriber(phone string) donation.Subscriber {
	h.t.Helper()
	var sub donation.Subscriber
	err := h.db.Update(h.ctx, phone, func(tx donation.Tx) error {
		var err error
		sub, err = tx.Subscriber(h.ctx, phone, shortCode)
		return err
	})
	if err != nil {
		h.t.Fatalf("subscriber: %v", err)
	}
	return sub
}

func (h *harness) donations(phone string) []donation.Donation {
	h.t.Helper()
	ds, err := h.db.Donations(h.ctx, phone)
	if err != nil {
		h.t.Fatalf("donations: %v", err)
	}
	return ds
}

func (h *harness) charge() {
	h.t.Helper()
	if _, err := h.svc.ChargePending(h.ctx); err != nil {
		h.t.Fatalf("charge: %v", err)
	}
}

func (h *harness) expire() int {
	h.t.Helper()
	n, err := h.svc.ExpireDue(h.ctx)
	if err != nil {
		h.t.Fatalf("expire: %v", err)
	}
	return n
}

// give runs a whole donation of amount dollars and returns the receipt.
func (h *harness) give(phone string, dollars int) []string {
	h.t.Helper()
	h.send(phone, fmt.Sprintf("GIVE %d", dollars))
	h.send(phone, "YES")
	h.send(phone, h.pins[phone])
	h.charge()
	return h.mts(phone)
}

// checkInvariants asserts SPEC §10 (1) and (3) over everything stored.
func (h *harness) checkInvariants(phones ...string) {
	h.t.Helper()
	storagetest.Sequence(h.t, h.db)
	certs, err := h.db.Certifications(h.ctx)
	if err != nil {
		h.t.Fatalf("certifications: %v", err)
	}
	certified := map[string]bool{}
	for i, c := range certs {
		if c.Seq != int64(i+1) {
			h.t.Errorf("certification %d has seq %d", i+1, c.Seq)
		}
		certified[c.Certification.DonationID] = true
	}
	var completed int64
	n := 0
	for _, p := range phones {
		for _, d := range h.donations(p) {
			if d.Status != donation.Completed {
				continue
			}
			n++
			completed += d.Amount
			if !certified[d.ID] || d.PINHash == "" || d.Amount == 0 || d.ReceivedAt.IsZero() {
				h.t.Errorf("completed donation %s lacks evidence: %+v", d.ID, d)
			}
		}
	}
	charges, cents := h.biller.Charged()
	if charges != n || cents != completed {
		h.t.Errorf("carrier charged %d for %d cents; completed donations %d for %d cents", charges, cents, n, completed)
	}
}
