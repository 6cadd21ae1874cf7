package main

import (
	"context"
	"fmt"
	"maps"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shortcode/shortcode/carrier/sim"
	"github.com/shortcode/shortcode/compliance"
	"github.com/shortcode/shortcode/compliance/certlog"
	"github.com/shortcode/shortcode/donation"
	"github.com/shortcode/shortcode/storage"
)

// The invariants of SPEC §10, checked from outside a run: against the
// simulator's ledger and message list (what the carrier charged and the
// phones received), the MOs the webhook acknowledged, the database, and
// the certification log as an auditor verifies it.

// moLog records the MOs a test's phones sent and which of them the webhook
// acknowledged (a 2xx answer): those must be durable (SPEC §10 (5)).
type moLog struct {
	mu     sync.Mutex
	sent   int
	acked  map[string]string // MessageSid -> phone
	phones map[string]bool
}

func newMOLog() *moLog {
	return &moLog{acked: map[string]string{}, phones: map[string]bool{}}
}

// add records one delivery of an MO from phone; it returns whether the
// webhook acknowledged it: Status, the answer to the first delivery, is 2xx
// only then, even if a duplicate delivery then failed.
func (l *moLog) add(phone string, d sim.Delivery) bool {
	ok := d.Status >= 200 && d.Status < 300
	l.mu.Lock()
	defer l.mu.Unlock()
	l.sent++
	l.phones[phone] = true
	if ok {
		l.acked[d.SID] = phone
	}
	return ok
}

func (l *moLog) counts() (sent, acked int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.sent, len(l.acked)
}

// invariants are what a check needs to know of a run.
type invariants struct {
	sim    *sim.Sim
	dsn    string
	pinKey []byte // the servers' --pin-key
	mos    *moLog
	// servers serve the database now; each must serve the same checkpoint,
	// and the first exports the log for an offline verify.
	servers []string
}

// tally is what a checked run did, for its report.
type tally struct {
	MOs, Acked, StoredMOs   int
	Donations, Completed    int
	Charges                 int
	Cents                   int64
	Certifications, OptOuts int
	Texts                   int
	InFlightAtStop          int // texts claimed before a STOP and taken by the gateway after it
	// TakenUnrecorded counts texts the gateway took whose MT is recorded
	// cancelled (or failed), with no sid; each fails the check.
	TakenUnrecorded int
}

func (y tally) String() string {
	return fmt.Sprintf("%d MOs sent (%d acknowledged, %d stored), %d donations (%d completed, %d charges, $%d.%02d), %d certifications, %d opt-outs, %d texts (%d claimed before a STOP and taken after it, %d taken but recorded cancelled)",
		y.MOs, y.Acked, y.StoredMOs, y.Donations, y.Completed, y.Charges, y.Cents/100, y.Cents%100, y.Certifications, y.OptOuts, y.Texts,
		y.InFlightAtStop, y.TakenUnrecorded)
}

// check checks SPEC §10 (1) to (6) once a run is drained (see drain): no
// charge is outstanding, no MT waits and every certification is in the log.
func (inv invariants) check(t *testing.T) tally {
	t.Helper()
	ctx := context.Background()
	db, err := storage.Open(ctx, inv.dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	prog, err := db.Program(ctx, "demo")
	if err != nil {
		t.Fatal(err)
	}
	var y tally
	y.MOs, y.Acked = inv.mos.counts()

	// (1) The carrier's ledger, by donation.
	charges := map[string][]sim.Charge{}
	for _, c := range inv.sim.Ledger() {
		if c.Kind != sim.KindCharge {
			t.Errorf("invariant 1: the carrier applied a %s no test asked for: %+v", c.Kind, c)
			continue
		}
		charges[c.Reference] = append(charges[c.Reference], c)
		y.Charges++
		y.Cents += c.Amount
	}
	certs, err := db.Certifications(ctx)
	if err != nil {
		t.Fatal(err)
	}
	y.Certifications = len(certs)
	certsOf := map[string][]storage.CertificationRecord{}
	for _, c := range certs {
		certsOf[c.DonationID] = append(certsOf[c.DonationID], c)
	}

	inv.mos.mu.Lock()
	phones := slices.Sorted(maps.Keys(inv.mos.phones))
	ackedOf := map[string][]string{}
	for sid, phone := range inv.mos.acked {
		ackedOf[phone] = append(ackedOf[phone], sid)
	}
	inv.mos.mu.Unlock()

	var completedCents int64
	for _, phone := range phones {
		masked := compliance.MaskPhone(phone)
		mos, err := db.MOs(ctx, phone)
		if err != nil {
			t.Fatal(err)
		}
		y.StoredMOs += len(mos)
		moBy := map[string]donation.MO{}
		for _, m := range mos {
			if _, twice := moBy[m.MessageID]; twice {
				t.Errorf("invariant 5: %s: MO %s stored twice", masked, m.MessageID)
			}
			moBy[m.MessageID] = m
		}
		// (5) Every MO acknowledged is stored.
		for _, sid := range ackedOf[phone] {
			if _, ok := moBy[sid]; !ok {
				t.Errorf("invariant 5: %s: MO %s was acknowledged to the gateway but is not stored", masked, sid)
			}
		}

		ds, err := db.Donations(ctx, phone)
		if err != nil {
			t.Fatal(err)
		}
		y.Donations += len(ds)
		var given int64 // completed and still reserved, against the caps
		for _, d := range ds {
			n := len(charges[d.ID])
			delete(charges, d.ID)
			switch d.Status {
			case donation.Completed:
				y.Completed++
				completedCents += d.Amount
				given += d.Amount
				if n != 1 {
					t.Errorf("invariant 1: completed donation %s of %s: %d charges at the carrier, want 1", d.ID, masked, n)
				}
				inv.checkEvidence(t, db, prog, d, moBy, certsOf[d.ID])
			case donation.Open:
				if !d.ChargePostedAt.IsZero() {
					t.Errorf("donation %s of %s is still charging after the drain", d.ID, masked)
				}
				if n != 0 {
					t.Errorf("invariant 1: open donation %s of %s was charged %d times", d.ID, masked, n)
				}
				if d.Reserved() {
					given += d.Amount
				}
			default:
				if n != 0 {
					t.Errorf("invariant 1: %s donation %s of %s was charged %d times", d.Status, d.ID, masked, n)
				}
			}
		}
		// (2) A test runs within 31 days, so the month's cap (and the
		// rolling 31 days') bounds everything a number gave.
		if given > prog.Limits.Month {
			t.Errorf("invariant 2: %s: %d cents completed and reserved, over the cap of %d", masked, given, prog.Limits.Month)
		}
		y.OptOuts += inv.checkTexts(t, db, phone, &y)
	}
	for id, cs := range charges {
		t.Errorf("invariant 1: %d charges at the carrier for %s, which is no completed donation: %+v", len(cs), id, cs)
	}
	if completedCents != y.Cents {
		t.Errorf("invariant 1: the carrier charged %d cents, the completed donations sum to %d", y.Cents, completedCents)
	}
	for _, c := range certs {
		if c.Seq == 0 {
			t.Errorf("invariant 6: certification of donation %s is not in the log after the drain", c.DonationID)
		}
	}

	// (6) Every server serves one checkpoint of every certification, and
	// the log verifies offline from its first record to it.
	checkOneLog(t, inv.dsn, inv.servers...)
	verifyExport(t, inv.dsn, inv.servers[0], len(certs))
	return y
}

// checkEvidence: SPEC §10 (3). Before its charge a completed donation had
// an allowed amount, a YES (the MO its certification names), the
// certification in the log, and a correct PIN (the MO its verification
// names, checked against the stored hash with the servers' PIN key).
func (inv invariants) checkEvidence(t *testing.T, db *storage.DB, prog compliance.Program, d donation.Donation, moBy map[string]donation.MO, certs []storage.CertificationRecord) {
	t.Helper()
	bad := func(format string, args ...any) {
		t.Errorf("invariant 3: completed donation %s of %s: %s", d.ID, compliance.MaskPhone(d.Phone), fmt.Sprintf(format, args...))
	}
	if !slices.Contains(prog.PricePoints, d.Amount) || d.Amount > prog.Limits.PerMessage {
		bad("amount %d is not an allowed one", d.Amount)
	}
	if d.ChargePostedAt.IsZero() {
		bad("no charge posted")
	}
	if len(certs) != 1 {
		bad("%d certifications, want 1", len(certs))
		return
	}
	c := certs[0]
	if c.Seq == 0 || c.Amount != d.Amount || c.Phone != d.Phone {
		bad("certification %+v", c)
	}
	if yes, ok := moBy[c.MessageID]; c.Channel != "sms" || !ok || !compliance.IsYes(compliance.Normalize(yes.Body)) {
		bad("its certification's MO %s (%q) is not a YES", c.MessageID, yes.Body)
	}
	if c.At.After(d.ChargePostedAt) {
		bad("certified at %v, after the charge was posted at %v", c.At, d.ChargePostedAt)
	}
	v, err := db.Verification(context.Background(), d.ID)
	if err != nil {
		bad("%v", err)
		return
	}
	pin, ok := moBy[v.MessageID]
	if v.Channel != "sms" || !ok || !donation.CheckPIN(inv.pinKey, &d, compliance.Normalize(pin.Body)) {
		bad("its PIN verification's MO %s (%q) does not carry the donation's PIN", v.MessageID, pin.Body)
	}
	if v.At.Before(c.At) || v.At.After(d.ChargePostedAt) {
		bad("PIN verified at %v: not between the certification (%v) and the charge (%v)", v.At, c.At, d.ChargePostedAt)
	}
}

// checkTexts compares what the phone received with the outbox, and
// returns its opt-outs.
//
// SPEC §10 (5): every text the phone received is an outbox row's, with
// its sid, and no row's sid came twice: a text sent twice (a retry after a
// crash, a gateway timeout) shows as a text whose sid no row has. The one
// exception is a row an opt-out cancelled while it was being sent, or
// whose last attempt's outcome was unknown when it was cancelled or
// failed: the gateway may have taken it, once, without its sid being
// recorded (counted in the tally). After the drain no row waits.
//
// SPEC §10 (4): from an opt-out to the next opt-in, the phone receives the
// confirmation and nothing else. A text the gateway took after the opt-out
// is allowed only if it was queued before the opt-out and taken before the
// confirmation: the sender had claimed it already (counted in the tally).
func (inv invariants) checkTexts(t *testing.T, db *storage.DB, phone string, y *tally) int {
	t.Helper()
	masked := compliance.MaskPhone(phone)
	recs, err := db.OutboxRecords(context.Background(), phone)
	if err != nil {
		t.Fatal(err)
	}
	bySID := map[string]storage.OutboxRecord{}
	var unknown []storage.OutboxRecord // not sent, and maybe taken
	for _, r := range recs {
		switch {
		case r.Status == "pending":
			t.Errorf("invariant 5: %s: MT %s still pending after the drain: %+v", masked, r.ID, r)
		case r.Status == "sent" && r.SID == "":
			t.Errorf("invariant 5: %s: MT %s sent with no sid", masked, r.ID)
		case r.Status == "sent":
			if _, twice := bySID[r.SID]; twice {
				t.Errorf("invariant 5: %s: two MTs marked sent as %s", masked, r.SID)
			}
			bySID[r.SID] = r
		case r.Status == "cancelled" || r.Attempts > 0:
			unknown = append(unknown, r)
		}
	}
	got := inv.sim.Messages(phone) // newest first
	slices.Reverse(got)
	y.Texts += len(got)
	failed := t.Failed()
	defer func() {
		if !failed && t.Failed() {
			t.Logf("%s: the texts it received and its outbox:\n%s", masked, textsAndOutbox(got, recs))
		}
	}()
	seen := map[string]bool{}
	for _, m := range got {
		seen[m.SID] = true
		if r, ok := bySID[m.SID]; ok {
			if textKey(r.MT.Body) != textKey(m.Body) {
				t.Errorf("invariant 5: %s received %q as %s, whose MT is %q", masked, m.Body, m.SID, r.MT.Body)
			}
			continue
		}
		i := slices.IndexFunc(unknown, func(r storage.OutboxRecord) bool { return textKey(r.MT.Body) == textKey(m.Body) })
		if i < 0 {
			t.Errorf("invariant 5: %s received %q (%s), which no MT of the outbox is: a text sent twice", masked, m.Body, m.SID)
			continue
		}
		// An MT whose send outcome was unknown is looked up at the
		// gateway before anything cancels it, so this is a defect.
		y.TakenUnrecorded++
		t.Errorf("invariant 5: %s received %q (%s), whose MT is recorded %s with no sid", masked, m.Body, m.SID, unknown[i].Status)
		bySID[m.SID] = unknown[i]
		unknown = slices.Delete(unknown, i, i+1)
	}
	for sid, r := range bySID {
		if !seen[sid] {
			t.Errorf("%s: MT %s (%q) is marked sent as %s, which the gateway never took", masked, r.ID, r.MT.Body, sid)
		}
	}

	events, err := db.ConsentEvents(context.Background(), phone)
	if err != nil {
		t.Fatal(err)
	}
	optOuts := 0
	for i, ev := range events {
		if ev.Kind != string(donation.OptOut) {
			continue
		}
		optOuts++
		until := time.Now().Add(time.Hour)
		for _, next := range events[i+1:] {
			if next.Kind == string(donation.OptIn) {
				until = next.At
				break
			}
		}
		var confirmations []sim.Message
		var others []sim.Message
		for _, m := range got {
			if m.Created.Before(ev.At) || !m.Created.Before(until) {
				continue
			}
			if bySID[m.SID].MT.Kind == donation.OptOutConfirmation {
				confirmations = append(confirmations, m)
			} else {
				others = append(others, m)
			}
		}
		if len(confirmations) != 1 {
			t.Errorf("invariant 4: %s opted out at %v (MO %s): %d confirmations before the next opt-in, want 1", masked, ev.At, ev.MessageID, len(confirmations))
			continue
		}
		for _, m := range others {
			if r := bySID[m.SID]; r.CreatedAt.Before(ev.At) && m.Created.Before(confirmations[0].Created) {
				y.InFlightAtStop++
				continue
			}
			t.Errorf("invariant 4: %s opted out at %v and received %q at %v, before opting in again", masked, ev.At, m.Body, m.Created)
		}
	}
	return optOuts
}

// verifyExport: SPEC §10 (6) as an auditor checks it. An auditor token
// exports the log from server, and `audit verify`, offline with the
// verifier key alone, verifies every record up to the signed checkpoint.
func verifyExport(t *testing.T, dsn, server string, records int) {
	t.Helper()
	dir := t.TempDir()
	tok := shortcode(t, dir, nil, "token", "create", "--db", dsn, "--role", "auditor", "--name", "invariants")
	tok.want(t, 0)
	api := []string{"SHORTCODE_SERVER=" + server, "SHORTCODE_TOKEN=" + strings.TrimSpace(tok.stdout)}
	export := shortcode(t, dir, api, "audit", "export", "--out", "log.jsonl")
	export.want(t, 0)
	vkey, err := certlog.VerifierKey(testLogKey)
	if err != nil {
		t.Fatal(err)
	}
	r := shortcode(t, dir, offlineEnv(t), "audit", "verify", "--log", filepath.Join(dir, "log.jsonl"),
		"--checkpoint", filepath.Join(dir, "log.checkpoint"), "--key", vkey)
	r.want(t, 0)
	if want := regexp.MustCompile(fmt.Sprintf(`(?m)^records\s+%d,`, records)); !want.MatchString(r.stdout) {
		t.Errorf("invariant 6: audit verify of %d records:\n%s%s", records, r.stdout, r.stderr)
	}
}

// drain waits until nothing of a run is left under way: no MT waits to be
// sent, no charge is outstanding and every certification is in the log.
func drain(t *testing.T, dsn string, within time.Duration) {
	t.Helper()
	ctx := context.Background()
	db, err := storage.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var pending, charging, queued int
	for deadline := time.Now().Add(within); ; time.Sleep(50 * time.Millisecond) {
		pending, err = db.PendingCount(ctx, time.Now().Add(24*time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		cs, err := db.Charging(ctx)
		if err != nil {
			t.Fatal(err)
		}
		certs, err := db.Certifications(ctx)
		if err != nil {
			t.Fatal(err)
		}
		charging, queued = len(cs), 0
		for _, c := range certs {
			if c.Seq == 0 {
				queued++
			}
		}
		if pending == 0 && charging == 0 && queued == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not drained after %v: %d MTs pending, %d charges outstanding, %d certifications queued", within, pending, charging, queued)
		}
	}
}

// textsAndOutbox shows what a phone received beside its outbox, for a
// failure's report.
func textsAndOutbox(got []sim.Message, recs []storage.OutboxRecord) string {
	var b strings.Builder
	short := func(s string) string {
		if len(s) > 40 {
			return s[:40] + "..."
		}
		return s
	}
	for _, m := range got {
		fmt.Fprintf(&b, "  received %s %s %q\n", m.Created.Format("15:04:05.000000"), m.SID, short(m.Body))
	}
	for _, r := range recs {
		fmt.Fprintf(&b, "  outbox   %s %s %s sid=%s attempts=%d in_flight=%v created=%s sent=%s last_error=%q\n",
			r.ID, r.Status, r.MT.Kind, r.SID, r.Attempts, r.InFlight, r.CreatedAt.Format("15:04:05.000000"),
			r.SentAt.Format("15:04:05.000000"), short(r.LastError))
	}
	return b.String()
}

// rePINText finds the PIN and the page token of a PIN text, which the
// outbox keeps without them once the text is sent.
var rePINText = regexp.MustCompile(`^(Your PIN is )[^.]*(\..* at )\S*/d/[^,]*`)

// textKey is a text with any PIN and page token left out.
func textKey(body string) string {
	return rePINText.ReplaceAllString(body, "$1#$2#")
}
