package sim

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"time"
)

// Kinds of ledger entries.
const (
	KindCharge = "charge"
	KindRefund = "refund"
)

// Charge is one entry of the simulated carrier's ledger: a charge or a
// refund it applied. Declined, failed and dropped attempts are not entries.
type Charge struct {
	Kind       string    `json:"kind"`       // KindCharge or KindRefund
	ServerRef  string    `json:"server_ref"` // the carrier's serverReferenceCode
	Reference  string    `json:"reference"`  // the client's referenceCode
	Correlator string    `json:"correlator"` // the client's clientCorrelator
	Phone      string    `json:"phone"`      // E.164
	Amount     int64     `json:"amount"`     // cents, positive for refunds too
	Carrier    string    `json:"carrier"`    // SimMobile or SimWireless
	At         time.Time `json:"at"`
	// OriginalServerRef is the refunded charge's ServerRef, for refunds.
	OriginalServerRef string `json:"original_server_ref,omitempty"`
}

// transaction is an applied charge or refund, with its OneAPI resource.
type transaction struct {
	Charge
	resource   amountTransaction
	refundedBy string // the refund's ServerRef, for a refunded charge
}

// answer is an HTTP answer the carrier made, kept to be replayed.
type answer struct {
	status   int
	location string
	body     []byte
}

// write sends a.
func (a answer) write(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/json")
	if a.location != "" {
		w.Header().Set("Location", a.location)
	}
	w.WriteHeader(a.status)
	w.Write(a.body)
}

// attempt is what a clientCorrelator was first used for, and the answer it
// got, which every later use of the correlator gets again.
type attempt struct {
	kind, reference, original string
	amount                    int64
	answer                    answer
}

// books is the carrier's state, guarded by Sim.bmu.
type books struct {
	ledger []Charge
	txns   map[string]*transaction // by ServerRef
	byUser map[string][]string     // phone -> ServerRefs, in order
	// byCorrelator holds the final answer per (phone, correlator).
	byCorrelator map[string]*attempt
	// byReference maps the referenceCode of each applied transaction to
	// its correlator key.
	byReference map[string]string
	// failures counts the 500s answered per referenceCode (flaky numbers).
	failures map[string]int
	// declines holds the codes forced on numbers by Decline.
	declines map[string]string
	// writtenOff holds the ServerRefs of the charges WriteOff wrote off.
	writtenOff map[string]bool
}

func newBooks() books {
	return books{
		txns:         make(map[string]*transaction),
		byUser:       make(map[string][]string),
		byCorrelator: make(map[string]*attempt),
		byReference:  make(map[string]string),
		failures:     make(map[string]int),
		declines:     make(map[string]string),
		writtenOff:   make(map[string]bool),
	}
}

// Ledger returns a copy of the charges and refunds the carrier applied, in
// the order it applied them.
func (s *Sim) Ledger() []Charge {
	s.bmu.Lock()
	defer s.bmu.Unlock()
	return append([]Charge{}, s.books.ledger...)
}

// declineCode is the shape of a OneAPI exception id.
var declineCode = regexp.MustCompile(`^(POL|SVC)[0-9]{4}$`)

// Decline makes every later charge to phone (E.164, "tel:" optional) be
// declined with code, such as "POL0253" (refused by the user) or "SVC0270":
// POL codes are answered as 403 policy exceptions, SVC codes as 400 service
// exceptions. It takes precedence over the number plan; a correlator
// already answered still gets its first answer. An empty code lifts it.
func (s *Sim) Decline(phone, code string) {
	phone = strings.TrimPrefix(phone, "tel:")
	s.bmu.Lock()
	defer s.bmu.Unlock()
	if code == "" {
		delete(s.books.declines, phone)
		return
	}
	s.books.declines[phone] = code
}

// WriteOff marks the applied charge serverRef as written off: the carrier
// could not collect it from the subscriber, so its settlement line says
// "written_off" instead of "paid" (its gross, fee and net unchanged). It
// reports whether serverRef names an applied charge; a refund cannot be
// written off.
func (s *Sim) WriteOff(serverRef string) bool {
	s.bmu.Lock()
	defer s.bmu.Unlock()
	t, ok := s.books.txns[serverRef]
	if !ok || t.Kind != KindCharge {
		return false
	}
	s.books.writtenOff[serverRef] = true
	return true
}

// writtenOff tells whether WriteOff wrote the charge serverRef off.
func (s *Sim) writtenOff(serverRef string) bool {
	s.bmu.Lock()
	defer s.bmu.Unlock()
	return s.books.writtenOff[serverRef]
}

// posting is a valid charge or refund request.
type posting struct {
	phone  string
	kind   string // KindCharge or KindRefund
	amount int64  // cents
	req    amountTransaction
}

// key is the correlator's key: correlators are scoped to the end user.
func (p posting) key() string { return p.phone + "\x00" + p.req.ClientCorrelator }

// outcome is what post did: the answer to send, and whether to drop the
// connection instead of sending it.
type outcome struct {
	answer answer
	hangUp bool
}

// book applies a charge or refund, or answers why not, by the idempotency
// rules of SPEC §12.2 and the number plan. base is the URL resourceURLs
// start with.
func (s *Sim) book(p posting, base string) outcome {
	s.bmu.Lock()
	defer s.bmu.Unlock()
	b := &s.books

	if at, ok := b.byCorrelator[p.key()]; ok {
		if at.kind != p.kind || at.reference != p.req.ReferenceCode || at.amount != p.amount ||
			at.original != p.req.OriginalServerReferenceCode {
			return outcome{answer: serviceError(http.StatusBadRequest, "SVC0001",
				fmt.Sprintf("Service error: clientCorrelator %s was already used for another transaction", p.req.ClientCorrelator))}
		}
		return outcome{answer: at.answer}
	}
	if key, ok := b.byReference[p.req.ReferenceCode]; ok && key != p.key() {
		return outcome{answer: serviceError(http.StatusBadRequest, "SVC0002",
			fmt.Sprintf("Invalid input value: referenceCode %s was already used with another clientCorrelator", p.req.ReferenceCode))}
	}

	var out outcome
	if p.kind == KindRefund {
		out.answer = s.refund(p, base)
	} else {
		out = s.charge(p, base)
	}
	if out.answer.status < 500 {
		b.byCorrelator[p.key()] = &attempt{
			kind: p.kind, reference: p.req.ReferenceCode, original: p.req.OriginalServerReferenceCode,
			amount: p.amount, answer: out.answer,
		}
	}
	return out
}

// charge bills p by the number plan. The caller holds s.bmu.
func (s *Sim) charge(p posting, base string) outcome {
	b := &s.books
	if code, ok := b.declines[p.phone]; ok {
		return outcome{answer: forcedDecline(code)}
	}
	if _, ok := regionOf(p.phone); !ok {
		return outcome{answer: serviceError(http.StatusBadRequest, "SVC0004",
			fmt.Sprintf("Unknown subscriber: %s", p.req.EndUserID))}
	}
	switch behaviourOf(p.phone) {
	case prepaid:
		return outcome{answer: policyError("POL1000", "Insufficient credit: prepaid account")}
	case business:
		return outcome{answer: policyError("POL0001", "Policy error: business-liable account")}
	case capped:
		return outcome{answer: policyError("POL1001", "Spending limit exceeded: %1", "monthly")}
	case blocked:
		return outcome{answer: policyError("POL0001", "Policy error: premium/third-party billing blocked")}
	case flaky:
		if b.failures[p.req.ReferenceCode] < 2 {
			b.failures[p.req.ReferenceCode]++
			return outcome{answer: internalError()}
		}
	case lostAnswer:
		// Only the first attempt gets here: the reference is then taken,
		// and later attempts are replays or SVC0002.
		return outcome{answer: s.apply(p, "", base), hangUp: true}
	}
	return outcome{answer: s.apply(p, "", base)}
}

// refund credits back the charge p names. The caller holds s.bmu.
func (s *Sim) refund(p posting, base string) answer {
	orig := p.req.OriginalServerReferenceCode
	if orig == "" {
		return policyError("POL1005", "Refund requires originalServerReferenceCode")
	}
	t, ok := s.books.txns[orig]
	switch {
	case !ok || t.Kind != KindCharge || t.Phone != p.phone:
		return serviceError(http.StatusBadRequest, "SVC0001",
			fmt.Sprintf("Service error: no charge %s for %s to refund", orig, p.req.EndUserID))
	case t.refundedBy != "":
		return serviceError(http.StatusBadRequest, "SVC0001",
			fmt.Sprintf("Service error: charge %s was already refunded by %s", orig, t.refundedBy))
	case t.Amount != p.amount:
		return serviceError(http.StatusBadRequest, "SVC0001",
			fmt.Sprintf("Service error: refund amount %s differs from the charge's %s (partial refunds are not supported)",
				formatCents(p.amount), formatCents(t.Amount)))
	}
	a := s.apply(p, orig, base)
	t.refundedBy = s.books.ledger[len(s.books.ledger)-1].ServerRef
	return a
}

// apply enters p in the ledger and answers 201 with its resource. The
// caller holds s.bmu.
func (s *Sim) apply(p posting, original, base string) answer {
	b := &s.books
	ref := newSID("SRV")
	t := &transaction{Charge: Charge{
		Kind:              p.kind,
		ServerRef:         ref,
		Reference:         p.req.ReferenceCode,
		Correlator:        p.req.ClientCorrelator,
		Phone:             p.phone,
		Amount:            p.amount,
		Carrier:           carrierOf(p.phone),
		At:                s.cfg.Now().UTC(),
		OriginalServerRef: original,
	}}
	t.resource = p.req.applied(ref, base+"/payment/v1/"+telPath(p.phone)+"/transactions/amount/"+ref, p.amount)
	b.ledger = append(b.ledger, t.Charge)
	b.txns[ref] = t
	b.byUser[p.phone] = append(b.byUser[p.phone], ref)
	b.byReference[p.req.ReferenceCode] = p.key()
	body, _ := json.Marshal(transactionBody{t.resource}) // plain strings: cannot fail
	return answer{status: http.StatusCreated, location: t.resource.ResourceURL, body: append(body, '\n')}
}

// transaction returns the resource of the transaction ref of phone.
func (s *Sim) transaction(phone, ref string) (amountTransaction, bool) {
	s.bmu.Lock()
	defer s.bmu.Unlock()
	t, ok := s.books.txns[ref]
	if !ok || t.Phone != phone {
		return amountTransaction{}, false
	}
	return t.resource, true
}

// transactions returns the resources of phone's transactions, in order.
func (s *Sim) transactions(phone string) []amountTransaction {
	s.bmu.Lock()
	defer s.bmu.Unlock()
	out := []amountTransaction{}
	for _, ref := range s.books.byUser[phone] {
		out = append(out, s.books.txns[ref].resource)
	}
	return out
}

// forcedDecline is the answer for a code set by Decline.
func forcedDecline(code string) answer {
	if text, ok := declineTexts[code]; ok {
		return exception(code, text, declineVars[code]...)
	}
	if strings.HasPrefix(code, "POL") {
		return policyError(code, "Policy error: charge declined ("+code+")")
	}
	return serviceError(http.StatusBadRequest, code, "Service error: charge declined ("+code+")")
}

// declineTexts are the texts of the decline codes of SPEC §12.2.
var declineTexts = map[string]string{
	"POL1000": "Insufficient credit: prepaid account",
	"POL1001": "Spending limit exceeded: %1",
	"POL0254": "Charge exceeds the single-charge limit",
	"POL0253": "Charge refused by the user",
	"POL0001": "Policy error: premium/third-party billing blocked",
	"SVC0270": "Charging failed: %1",
	"SVC0004": "Unknown subscriber",
}

// declineVars are the variables of the templated decline texts.
var declineVars = map[string][]string{
	"POL1001": {"monthly"},
	"SVC0270": {"declined by the billing system"},
}
