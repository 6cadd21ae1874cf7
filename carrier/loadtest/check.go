package loadtest

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/shortcode/shortcode/carrier/sim"
	"github.com/shortcode/shortcode/compliance"
	"github.com/shortcode/shortcode/compliance/certlog"
	"github.com/shortcode/shortcode/donation/httpserver"
)

// Donation is one of the run's completed donations, as the operator API
// shows it: its row in the contributions report and, when the API gave it,
// its evidence (GET /api/v1/audit/donations/{id}).
type Donation struct {
	ID         string
	Phone      string // from the evidence; the report shows it masked
	Amount     int64  // cents
	ReceivedAt time.Time
	Evidence   *httpserver.EvidenceOfDonation
}

// Input is what Check checks: the program, the run's conversations, the
// carrier's ledger and the run's completed donations.
type Input struct {
	Program       compliance.Program
	Conversations []Conversation
	Ledger        []sim.Charge // the carrier's, whole: Check keeps the run's numbers
	Donations     []Donation
	// Verifier checks the checkpoints' signatures; nil reads them
	// without (the inclusion proofs are checked either way).
	Verifier note.Verifier
}

// Violation is one breach of an invariant of SPEC §10.
type Violation struct {
	Invariant int    `json:"invariant"`
	Donation  string `json:"donation,omitempty"`
	Phone     string `json:"phone,omitempty"` // masked
	What      string `json:"what"`
}

func (v Violation) String() string {
	s := fmt.Sprintf("invariant %d", v.Invariant)
	if v.Donation != "" {
		s += ", donation " + v.Donation
	}
	if v.Phone != "" {
		s += ", " + v.Phone
	}
	return s + ": " + v.What
}

// Report is the outcome of Check.
type Report struct {
	Hold           bool        `json:"hold"`
	Donations      int         `json:"completed_donations"`
	CompletedCents int64       `json:"completed_cents"`
	Charges        int         `json:"carrier_charges"`
	ChargedCents   int64       `json:"charged_cents"`
	Receipts       int         `json:"receipts"`
	Signed         bool        `json:"checkpoint_signature_checked"`
	Violations     []Violation `json:"violations"`
}

// Check checks SPEC §10's invariants 1 to 3 over the run's numbers:
//
//  1. no donation is charged twice, each completed donation is charged
//     once with its amount, the carrier charged nothing else, and the sums
//     agree; each receipt a donor got is a completed donation, and each
//     completed donation was a receipt or a PIN sent before the run ended;
//  2. no number's completed donations pass a cap of SPEC §5.1: per message,
//     calendar month, any 31 days (strict mode), election cycle or year;
//  3. each completed donation has an allowed amount, a YES (its
//     certification record names a YES text the run sent from the number),
//     a certification record in the log (it parses, opens to the number,
//     holds the donation's amount and is in a checkpoint's tree by its
//     proof), and a correct PIN (the text that carried the PIN the run
//     read from its PIN text), in that order before the charge.
func Check(in Input) Report {
	rep := Report{Signed: in.Verifier != nil, Violations: []Violation{}}
	add := func(inv int, id, phone, format string, args ...any) {
		if phone != "" {
			phone = compliance.MaskPhone(phone)
		}
		rep.Violations = append(rep.Violations, Violation{Invariant: inv, Donation: id, Phone: phone, What: fmt.Sprintf(format, args...)})
	}

	phones := map[string]bool{}
	yes := map[string]string{} // YES MessageSid -> phone
	pin := map[string]string{} // PIN MessageSid -> the PIN
	// A donor who sent its PIN may have been cut off before its receipt
	// came: its donation may be completed all the same.
	receipts, cutOff := map[string]int{}, map[string]int{}
	for _, c := range in.Conversations {
		phones[c.Phone] = true
		for _, sid := range c.Yes {
			yes[sid] = c.Phone
		}
		if c.PINSid != "" {
			pin[c.PINSid] = c.PIN
		}
		switch {
		case c.Completed:
			receipts[c.Phone]++
			rep.Receipts++
		case c.PINSid != "":
			cutOff[c.Phone]++
		}
	}

	// 1. The carrier's charges against the completed donations.
	charges := map[string][]sim.Charge{} // by reference, the donation id
	for _, ch := range in.Ledger {
		if ch.Kind != sim.KindCharge || !phones[ch.Phone] {
			continue
		}
		charges[ch.Reference] = append(charges[ch.Reference], ch)
		rep.Charges++
		rep.ChargedCents += ch.Amount
	}
	completed := map[string]Donation{}
	perPhone := map[string]int{}
	for _, d := range in.Donations {
		completed[d.ID] = d
		perPhone[d.Phone]++
		rep.Donations++
		rep.CompletedCents += d.Amount
		switch cs := charges[d.ID]; {
		case len(cs) == 0:
			add(1, d.ID, d.Phone, "completed, but the carrier has no charge for it")
		case cs[0].Amount != d.Amount || cs[0].Phone != d.Phone:
			add(1, d.ID, d.Phone, "completed for %d cents, but the carrier charged %d cents to %s", d.Amount, cs[0].Amount, compliance.MaskPhone(cs[0].Phone))
		}
	}
	for _, ref := range slices.Sorted(maps.Keys(charges)) {
		cs := charges[ref]
		if len(cs) > 1 {
			add(1, ref, cs[0].Phone, "charged %d times", len(cs))
		}
		if _, ok := completed[ref]; !ok {
			add(1, ref, cs[0].Phone, "charged %d cents, but not a completed donation", cs[0].Amount)
		}
	}
	if rep.ChargedCents != rep.CompletedCents {
		add(1, "", "", "the carrier charged %d cents in all, the completed donations are %d cents", rep.ChargedCents, rep.CompletedCents)
	}
	for _, p := range slices.Sorted(maps.Keys(phones)) {
		if n := perPhone[p]; n < receipts[p] || n > receipts[p]+cutOff[p] {
			add(1, "", p, "got %d receipts (and sent %d PINs with none) but has %d completed donations", receipts[p], cutOff[p], n)
		}
	}

	// 2. The caps, over each number's completed donations.
	byPhone := map[string][]Donation{}
	for _, d := range in.Donations {
		byPhone[d.Phone] = append(byPhone[d.Phone], d)
	}
	for _, p := range slices.Sorted(maps.Keys(byPhone)) {
		for _, why := range overCaps(in.Program, byPhone[p]) {
			add(2, "", p, "%s", why)
		}
	}

	// 3. Each completed donation's evidence.
	for _, d := range in.Donations {
		for _, why := range evidenceProblems(in.Program, d, yes, pin, charges[d.ID], in.Verifier) {
			add(3, d.ID, d.Phone, "%s", why)
		}
	}
	rep.Hold = len(rep.Violations) == 0
	return rep
}

// overCaps says which caps of SPEC §5.1 the donations of one number to the
// program's committee pass, each period once.
func overCaps(p compliance.Program, ds []Donation) []string {
	var out []string
	l, c := p.Limits, p.Committee
	loc := c.Location()
	months, periods := map[string]int64{}, map[time.Time]int64{}
	for _, d := range ds {
		if d.Amount > l.PerMessage {
			out = append(out, fmt.Sprintf("donation %s of %d cents passes the per-message cap of %d", d.ID, d.Amount, l.PerMessage))
		}
		months[d.ReceivedAt.In(loc).Format("2006-01")] += d.Amount
		start, _ := c.Period(d.ReceivedAt)
		periods[start] += d.Amount
	}
	for _, m := range slices.Sorted(maps.Keys(months)) {
		if months[m] > l.Month {
			out = append(out, fmt.Sprintf("%d cents in %s passes the monthly cap of %d", months[m], m, l.Month))
		}
	}
	for start, sum := range periods {
		if sum > l.Cycle {
			out = append(out, fmt.Sprintf("%d cents in the period from %s passes the cap of %d", sum, start.Format(time.DateOnly), l.Cycle))
		}
	}
	if l.Rolling {
		sorted := slices.SortedFunc(slices.Values(ds), func(a, b Donation) int { return a.ReceivedAt.Compare(b.ReceivedAt) })
		for i, d := range sorted {
			var sum int64
			for _, e := range sorted[:i+1] {
				if e.ReceivedAt.After(d.ReceivedAt.Add(-compliance.RollingWindow)) {
					sum += e.Amount
				}
			}
			if sum > l.Month {
				out = append(out, fmt.Sprintf("%d cents in the 31 days to %s passes the cap of %d", sum, d.ReceivedAt.Format(time.RFC3339), l.Month))
				break
			}
		}
	}
	return out
}

// evidenceProblems says what of invariant 3 one completed donation lacks.
// yes maps the run's YES texts to their numbers, pins the texts that
// carried a PIN to it; charges are the carrier's for the donation.
func evidenceProblems(p compliance.Program, d Donation, yes, pins map[string]string, charges []sim.Charge, v note.Verifier) []string {
	var out []string
	if !slices.Contains(p.PricePoints, d.Amount) || d.Amount > p.Limits.PerMessage {
		out = append(out, fmt.Sprintf("%d cents is not an allowed amount", d.Amount))
	}
	ev := d.Evidence
	if ev == nil {
		return append(out, "the API gave no evidence for it")
	}
	rec, err := certlog.Parse([]byte(ev.Record))
	if err != nil {
		return append(out, "its certification record does not parse: "+err.Error())
	}
	switch {
	case rec.Donation != d.ID:
		out = append(out, fmt.Sprintf("its certification record is donation %s's", rec.Donation))
	case rec.Amount != d.Amount:
		out = append(out, fmt.Sprintf("its certification record is for %d cents", rec.Amount))
	case rec.Index != ev.Index:
		out = append(out, fmt.Sprintf("its certification record holds index %d, the evidence says %d", rec.Index, ev.Index))
	case ev.Opening.Phone != d.Phone:
		out = append(out, "its certification record is opened with another number")
	}
	if err := ev.Opening.Check(rec); err != nil {
		out = append(out, "its certification record: "+err.Error())
	}
	if rec.Channel != certlog.SMS || yes[rec.MessageID] != d.Phone {
		out = append(out, fmt.Sprintf("its certification was not one of the number's YES texts (channel %s, message %s)", rec.Channel, rec.MessageID))
	}
	if err := inLog(ev, rec, v); err != nil {
		out = append(out, "its certification record is not in the log: "+err.Error())
	}
	switch pv := ev.PIN; {
	case pv == nil:
		out = append(out, "no PIN verification")
	case pv.Channel != "sms" || pins[pv.MessageID] == "":
		out = append(out, fmt.Sprintf("its PIN did not come in the number's PIN text (channel %s, message %s)", pv.Channel, pv.MessageID))
	case pv.At.Before(rec.Time):
		out = append(out, "its PIN was verified before the certification")
	}
	switch ch := ev.Charge; {
	case ch == nil:
		out = append(out, "no charge in its evidence")
	case ev.PIN != nil && ch.PostedAt.Before(ev.PIN.At):
		out = append(out, "charged before its PIN was verified")
	case ch.PostedAt.Before(rec.Time):
		out = append(out, "charged before its certification")
	case len(charges) > 0 && ch.Reference != charges[0].ServerRef:
		out = append(out, fmt.Sprintf("its charge reference %s is not the carrier's %s", ch.Reference, charges[0].ServerRef))
	}
	return out
}

// inLog checks that ev's record is in the tree of its checkpoint, whose
// signature v checks when not nil.
func inLog(ev *httpserver.EvidenceOfDonation, rec certlog.Record, v note.Verifier) error {
	var cp certlog.Checkpoint
	var err error
	if v != nil {
		cp, err = certlog.OpenCheckpoint([]byte(ev.Checkpoint), v)
	} else {
		cp, err = certlog.ReadCheckpoint([]byte(ev.Checkpoint))
	}
	switch {
	case err != nil:
		return fmt.Errorf("checkpoint: %w", err)
	case ev.Index >= cp.N:
		return fmt.Errorf("%w: record %d, checkpoint of %d records", errNotYet, ev.Index, cp.N)
	}
	if err := tlog.CheckRecord(ev.Proof, cp.N, cp.Hash, ev.Index, tlog.RecordHash([]byte(ev.Record))); err != nil {
		return fmt.Errorf("record %d is not in the checkpoint's tree: %w", ev.Index, err)
	}
	return nil
}

// errNotYet is a record not yet in a signed checkpoint: the merge delay.
var errNotYet = errors.New("not in a signed checkpoint yet")
