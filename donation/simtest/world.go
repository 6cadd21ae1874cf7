package simtest

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/shortcode/shortcode/donation"
	"github.com/shortcode/shortcode/donation/donationtest"
)

// Faults counts the faults injected, by kind.
type Faults map[string]int

// world is what lives outside the service and survives its restarts: one
// random source, the clock, the gateway, the carriers, the number lookups.
// Everything in it is driven by hand, one call at a time, so that a seed
// replays exactly.
type world struct {
	rng    *rand.Rand
	clock  *donationtest.Clock
	faults Faults
	// trace records one line of the history; the run digests them all.
	trace func(format string, args ...any)
	// violation reports a broken invariant seen by the world itself (a
	// reused charge reference, an MT taken twice).
	violation func(format string, args ...any)
}

func (w *world) chance(p float64) bool { return w.rng.Float64() < p }

func (w *world) fault(kind string) {
	w.faults[kind]++
	w.trace("fault %s", kind)
}

// errTimeout is an answer that never came: the outcome is unknown.
var errTimeout = errors.New("simulated timeout")

// message is an MT the gateway took.
type message struct {
	SID        string
	To, From   string
	Body       string
	Kind       donation.MTKind
	DonationID string
	OutboxID   string
	At         time.Time
	Seq        int // order of taking, over the run
}

// gateway is the simulated messaging gateway behind donation.Sender: it
// takes MTs or fails them with each error class the service tells apart
// (ErrNotSent, ErrRejected, ErrUnsubscribed, and unknown outcomes with the
// MT taken or not), and lists what it took for Sender.Sent.
type gateway struct {
	w    *world
	seq  int
	msgs []message
	byID map[string]int // outbox id -> index in msgs
	// optedOut holds (phone, short code) pairs whose donor opted out at the
	// gateway itself: sends to them answer ErrUnsubscribed (Twilio 21610)
	// until the donor texts an opt-in word or a keyword.
	optedOut map[[2]string]bool
	// took is told of each MT taken.
	took func(message)
}

func newGateway(w *world) *gateway {
	return &gateway{w: w, byID: map[string]int{}, optedOut: map[[2]string]bool{}}
}

// send is donation.Sender.Send for the MT with outbox id id.
func (g *gateway) send(mt donation.MT, id string) (string, error) {
	w := g.w
	key := [2]string{mt.To, mt.From}
	switch {
	case g.optedOut[key]:
		w.fault("gateway_unsubscribed")
		return "", fmt.Errorf("21610: %w", donation.ErrUnsubscribed)
	case w.chance(0.002):
		g.optedOut[key] = true
		w.fault("gateway_unsubscribed")
		return "", fmt.Errorf("21610: %w", donation.ErrUnsubscribed)
	case w.chance(0.001):
		w.fault("gateway_rejected")
		return "", fmt.Errorf("21211 invalid: %w", donation.ErrRejected)
	case w.chance(0.03):
		w.fault("gateway_not_sent")
		return "", fmt.Errorf("20429 too many requests: %w", donation.ErrNotSent)
	case w.chance(0.02):
		w.fault("gateway_timeout_not_taken")
		return "", errTimeout
	}
	sid := g.take(mt, id)
	if w.chance(0.02) {
		w.fault("gateway_timeout_taken")
		return "", errTimeout
	}
	return sid, nil
}

func (g *gateway) take(mt donation.MT, id string) string {
	if i, ok := g.byID[id]; ok {
		prev := g.msgs[i]
		g.w.violation("outbox MT %s taken twice by the gateway: %s at %s and again at %s", id, prev.SID, prev.At.Format(time.RFC3339Nano), g.w.clock.Now().Format(time.RFC3339Nano))
	}
	g.seq++
	m := message{
		SID: fmt.Sprintf("SM%032x", g.seq), To: mt.To, From: mt.From, Body: mt.Body, Kind: mt.Kind,
		DonationID: mt.DonationID, OutboxID: id, At: g.w.clock.Now(), Seq: g.seq,
	}
	g.byID[id] = len(g.msgs)
	g.msgs = append(g.msgs, m)
	g.w.trace("mt %s taken to %s from %s: %q", m.SID, m.To, m.From, m.Body)
	if g.took != nil {
		g.took(m)
	}
	return m.SID
}

// sent is donation.Sender.Sent.
func (g *gateway) sent(mt donation.MT, since time.Time) ([]string, error) {
	if g.w.chance(0.05) {
		g.w.fault("gateway_list_timeout")
		return nil, errTimeout
	}
	var sids []string
	for _, m := range g.msgs {
		if m.To == mt.To && m.From == mt.From && m.Body == mt.Body && !m.At.Before(since) {
			sids = append(sids, m.SID)
		}
	}
	return sids, nil
}

// optIn clears a gateway-level opt-out when the donor texts an opt-in word
// or a keyword through the gateway.
func (g *gateway) optIn(phone, shortCode string) { delete(g.optedOut, [2]string{phone, shortCode}) }

// charge is one charge a carrier knows, by correlator.
type charge struct {
	req     donation.ChargeRequest
	out     donation.ChargeResult
	applied bool // billed to the donor
	at      time.Time
}

// carrier is a simulated carrier's billing: charges kept by correlator and
// answered again to the same correlator without billing twice, a
// reference (donation id) reused with another correlator refused (SVC0002)
// and reported as a violation, and faults: 5xx and timeouts before the
// charge, timeouts after it, "Processing" answers, declines.
type carrier struct {
	w       *world
	name    string
	fees    donation.Fees
	byCorr  map[string]*charge
	byRef   map[string]string // donation id -> correlator
	decline map[string]bool   // phones whose account declines every charge
	order   []string          // correlators in the order first seen
}

func newCarrier(w *world, name string) *carrier {
	return &carrier{
		w: w, name: name, fees: donation.Fees{CarrierBPS: 3000, AggregatorBPS: 500, AggregatorFixed: 10},
		byCorr: map[string]*charge{}, byRef: map[string]string{}, decline: map[string]bool{},
	}
}

func (c *carrier) charge(req donation.ChargeRequest) (donation.ChargeResult, error) {
	w := c.w
	if ch, ok := c.byCorr[req.Correlator]; ok {
		w.trace("carrier %s: correlator %s again: %s", c.name, req.Correlator, ch.out.Outcome)
		if ch.req.DonationID != req.DonationID || ch.req.Amount != req.Amount {
			w.violation("correlator %s reused for donation %s (%d cents), first for %s (%d cents)",
				req.Correlator, req.DonationID, req.Amount, ch.req.DonationID, ch.req.Amount)
		}
		return ch.out, nil
	}
	if corr, ok := c.byRef[req.DonationID]; ok {
		w.violation("donation %s posted with correlator %s after %s: a second charge", req.DonationID, req.Correlator, corr)
		return donation.ChargeResult{}, errors.New("SVC0002 reference code already used")
	}
	switch {
	case w.chance(0.04):
		w.fault("carrier_5xx")
		return donation.ChargeResult{}, errors.New("503 Service Unavailable")
	case w.chance(0.03):
		w.fault("carrier_timeout_not_applied")
		return donation.ChargeResult{}, errTimeout
	}
	ch := &charge{req: req, at: w.clock.Now()}
	if c.decline[req.Phone] || w.chance(0.03) {
		ch.out = donation.ChargeResult{Outcome: donation.ChargeDeclined, Code: "POL1001", Reason: "spending limit exceeded"}
	} else {
		ch.applied = true
		ch.out = donation.ChargeResult{Outcome: donation.Charged, ServerRef: "SRV-" + req.Correlator}
	}
	c.byCorr[req.Correlator] = ch
	c.byRef[req.DonationID] = req.Correlator
	c.order = append(c.order, req.Correlator)
	w.trace("carrier %s: %s %s %d cents: %s", c.name, req.Correlator, req.Phone, req.Amount, ch.out.Outcome)
	switch {
	case w.chance(0.03):
		w.fault("carrier_timeout_applied")
		return donation.ChargeResult{}, errTimeout
	case w.chance(0.02):
		w.fault("carrier_processing")
		return donation.ChargeResult{Outcome: donation.Unknown}, nil
	}
	return ch.out, nil
}

func (c *carrier) status(req donation.ChargeRequest) (donation.ChargeResult, error) {
	if c.w.chance(0.05) {
		c.w.fault("carrier_status_timeout")
		return donation.ChargeResult{}, errTimeout
	}
	if corr, ok := c.byRef[req.DonationID]; ok && c.byCorr[corr].applied {
		return c.byCorr[corr].out, nil
	}
	// Any status but charged means not billed (SPEC §12.2).
	return donation.ChargeResult{Outcome: donation.NotCharged}, nil
}

// applied returns the charge billed for a donation, if any.
func (c *carrier) applied(donationID string) (*charge, bool) {
	corr, ok := c.byRef[donationID]
	if !ok || !c.byCorr[corr].applied {
		return nil, false
	}
	return c.byCorr[corr], true
}

// billed returns how many charges were billed and their total in cents.
func (c *carrier) billed() (n int, cents int64) {
	for _, corr := range c.order {
		if ch := c.byCorr[corr]; ch.applied {
			n++
			cents += ch.req.Amount
		}
	}
	return n, cents
}

// line is what a number lookup answers for a donor.
type line struct {
	line donation.Line
	// flaky numbers fail some lookups (a 503 at the carrier side).
	flaky bool
}

// looker is the simulated number lookup (SPEC §6.1).
type looker struct {
	w     *world
	lines map[string]line
	// last is the answer of the latest lookup of each number, for the
	// model: nil after a failed one.
	last map[string]*donation.Line
}

func (l *looker) lookup(phone string) (donation.Line, error) {
	ln, ok := l.lines[phone]
	if !ok {
		return donation.Line{}, fmt.Errorf("lookup %s: no such number", phone)
	}
	if ln.flaky && l.w.chance(0.3) || l.w.chance(0.01) {
		l.w.fault("lookup_failed")
		l.last[phone] = nil
		return donation.Line{}, errors.New("lookup: 503 Service Unavailable")
	}
	line := ln.line
	l.last[phone] = &line
	return line, nil
}

// carriers routes billing by carrier name, as donation.Carriers does.
type carriers struct {
	byName map[string]*carrier
	names  []string
}

func (cs *carriers) get(name string) (*carrier, error) {
	c, ok := cs.byName[name]
	if !ok {
		return nil, fmt.Errorf("carrier %q: %w", name, donation.ErrUnknownCarrier)
	}
	return c, nil
}

// applied returns the charge billed for a donation at any carrier.
func (cs *carriers) applied(donationID string) (*charge, bool) {
	for _, n := range cs.names {
		if ch, ok := cs.byName[n].applied(donationID); ok {
			return ch, true
		}
	}
	return nil, false
}

func (cs *carriers) billed() (n int, cents int64) {
	for _, name := range cs.names {
		cn, cc := cs.byName[name].billed()
		n += cn
		cents += cc
	}
	return n, cents
}

func newCarriers(w *world, names ...string) *carriers {
	cs := &carriers{byName: map[string]*carrier{}, names: slices.Clone(names)}
	for _, n := range names {
		cs.byName[n] = newCarrier(w, n)
	}
	return cs
}
