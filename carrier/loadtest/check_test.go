package loadtest_test

import (
	"crypto/rand"
	"fmt"
	"slices"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/shortcode/shortcode/carrier/loadtest"
	"github.com/shortcode/shortcode/carrier/sim"
	"github.com/shortcode/shortcode/compliance"
	"github.com/shortcode/shortcode/compliance/certlog"
	"github.com/shortcode/shortcode/donation/httpserver"
	"github.com/shortcode/shortcode/donation/treasury"
)

// gift is one completed donation of a world.
type gift struct {
	phone  string
	amount int64
	at     time.Time
}

const (
	phoneA = "+13128670100"
	phoneB = "+13128670101"
)

var t0 = time.Date(2027, 3, 10, 15, 0, 0, 0, time.UTC)

// world is what Check is given after a run in which every gift went right:
// each is a conversation with its YES and PIN texts, a record in a log
// whose signed checkpoint holds them all, the evidence the API gives, and
// one carrier charge.
func world(t *testing.T, p compliance.Program, gifts ...gift) (loadtest.Input, note.Verifier) {
	t.Helper()
	skey, vkey, err := note.GenerateKey(rand.Reader, "test.example/log")
	if err != nil {
		t.Fatal(err)
	}
	signer, _ := note.NewSigner(skey)
	verifier, _ := note.NewVerifier(vkey)

	var stored []tlog.Hash
	hr := tlog.HashReaderFunc(func(ix []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(ix))
		for i, x := range ix {
			out[i] = stored[x]
		}
		return out, nil
	})
	in := loadtest.Input{Program: p}
	var records [][]byte
	var openings []certlog.Opening
	for i, g := range gifts {
		id := fmt.Sprintf("D%03d", i)
		c := loadtest.Conversation{Phone: g.phone, Amount: g.amount, Started: g.at.Add(-time.Second),
			Yes: []string{fmt.Sprintf("SM%032x", 2*i)}, PINSid: fmt.Sprintf("SM%032x", 2*i+1), PIN: "123456", Completed: true}
		in.Conversations = append(in.Conversations, c)
		salt, _ := certlog.NewSalt(rand.Reader)
		rec, err := certlog.Record{Index: int64(i), Time: g.at, Program: p.ID, Committee: p.Committee.ID, Donation: id,
			Channel: certlog.SMS, MessageID: c.Yes[0], TextVersion: "v1", TextSHA256: [32]byte{1}, TermsVersion: "v1",
			TermsSHA256: [32]byte{2}, Amount: g.amount, PhoneCommitment: certlog.Commit(salt, g.phone)}.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		hs, err := tlog.StoredHashes(int64(i), rec, hr)
		if err != nil {
			t.Fatal(err)
		}
		stored = append(stored, hs...)
		records = append(records, rec)
		openings = append(openings, certlog.Opening{Salt: salt, Phone: g.phone})
	}
	n := int64(len(gifts))
	root, err := tlog.TreeHash(n, hr)
	if err != nil {
		t.Fatal(err)
	}
	cp, err := certlog.SignCheckpoint(certlog.Checkpoint{Origin: "test.example/log", Tree: tlog.Tree{N: n, Hash: root}}, signer)
	if err != nil {
		t.Fatal(err)
	}
	for i, g := range gifts {
		id := fmt.Sprintf("D%03d", i)
		proof, err := tlog.ProveRecord(n, int64(i), hr)
		if err != nil {
			t.Fatal(err)
		}
		c := in.Conversations[i]
		ref := fmt.Sprintf("SR%03d", i)
		in.Donations = append(in.Donations, loadtest.Donation{ID: id, Phone: g.phone, Amount: g.amount, ReceivedAt: g.at,
			Evidence: &httpserver.EvidenceOfDonation{Donation: id, Phone: g.phone, Amount: treasury.Decimal(g.amount),
				Status: "completed", Index: int64(i), Record: string(records[i]), Opening: openings[i],
				PIN:        &httpserver.PINVerification{At: g.at.Add(time.Second), Channel: "sms", MessageID: c.PINSid},
				Charge:     &httpserver.ChargeEvidence{PostedAt: g.at.Add(time.Second), Correlator: id + "-1", Carrier: sim.SimMobile, Outcome: "completed", Reference: ref},
				Checkpoint: string(cp), Proof: proof}})
		in.Ledger = append(in.Ledger, sim.Charge{Kind: sim.KindCharge, ServerRef: ref, Reference: id, Correlator: id + "-1",
			Phone: g.phone, Amount: g.amount, Carrier: sim.SimMobile, At: g.at.Add(2 * time.Second)})
	}
	// Another number's charge, not the run's, is left alone.
	in.Ledger = append(in.Ledger, sim.Charge{Kind: sim.KindCharge, ServerRef: "SRX", Reference: "DX", Phone: "+12125550100", Amount: 2000})
	return in, verifier
}

// TestCheck: a run in which everything went right holds; each way an
// invariant can break is found, and named by its invariant.
func TestCheck(t *testing.T) {
	demo := compliance.DemoProgram("https://give.example.org")
	three := []gift{{phoneA, 1000, t0}, {phoneA, 1000, t0.Add(time.Minute)}, {phoneB, 1000, t0.Add(2 * time.Minute)}}
	every := func(n int, g gift, step time.Duration) []gift {
		out := make([]gift, n)
		for i := range out {
			out[i] = g
			out[i].at = g.at.Add(time.Duration(i) * step)
		}
		return out
	}
	// $40 every 40 days, 6 times: $240, within every month's and any 31
	// days' $50.
	monthly := func(from time.Time) []gift {
		var out []gift
		for i := range 6 {
			out = append(out, every(2, gift{phoneA, 2000, from.Add(time.Duration(i) * 40 * 24 * time.Hour)}, time.Hour)...)
		}
		return out
	}
	noRolling := demo
	noRolling.Limits.Rolling = false
	pac := demo
	pac.Committee.Type = compliance.PAC

	for _, tc := range []struct {
		name   string
		p      compliance.Program
		gifts  []gift
		change func(in *loadtest.Input, other note.Verifier)
		signed bool
		want   []int // the invariants broken
	}{
		{name: "all went right", gifts: three},
		{name: "all went right, signatures checked", gifts: three, signed: true},
		{name: "no donation at all", gifts: nil},
		{name: "at the caps exactly", gifts: every(5, gift{phoneA, 1000, t0}, time.Hour)},
		{name: "charged twice", gifts: three, want: []int{1}, change: func(in *loadtest.Input, _ note.Verifier) {
			dup := in.Ledger[0]
			dup.ServerRef = "SR999"
			in.Ledger = append(in.Ledger, dup)
		}},
		{name: "completed, never charged", gifts: three, want: []int{1}, change: func(in *loadtest.Input, _ note.Verifier) {
			in.Ledger = in.Ledger[1:]
		}},
		{name: "charged, not completed", gifts: three, want: []int{1}, change: func(in *loadtest.Input, _ note.Verifier) {
			in.Ledger = append(in.Ledger, sim.Charge{Kind: sim.KindCharge, ServerRef: "SR9", Reference: "D9", Phone: phoneB, Amount: 500})
		}},
		{name: "charged another amount", gifts: three, want: []int{1}, change: func(in *loadtest.Input, _ note.Verifier) {
			in.Ledger[2].Amount = 1500
		}},
		{name: "a receipt but no completed donation", gifts: three, want: []int{1}, change: func(in *loadtest.Input, _ note.Verifier) {
			in.Conversations = append(in.Conversations, loadtest.Conversation{Phone: phoneB, Amount: 1000, Completed: true})
		}},
		{name: "a donation completed after its donor was cut off", gifts: three, change: func(in *loadtest.Input, _ note.Verifier) {
			in.Conversations[2].Completed = false
		}},
		{name: "a donation completed with no PIN sent", gifts: three, want: []int{1, 3}, change: func(in *loadtest.Input, _ note.Verifier) {
			in.Conversations[2].Completed, in.Conversations[2].PINSid = false, ""
		}},
		{name: "refunds are not charges", gifts: three, change: func(in *loadtest.Input, _ note.Verifier) {
			in.Ledger = append(in.Ledger, sim.Charge{Kind: sim.KindRefund, ServerRef: "SR8", Reference: "R1", Phone: phoneA, Amount: 1000})
		}},
		{name: "over the monthly cap", gifts: every(6, gift{phoneA, 1000, t0}, time.Hour), want: []int{2}},
		{name: "over the 31-day cap", p: demo, gifts: append(every(3, gift{phoneA, 1000, time.Date(2027, 3, 29, 0, 0, 0, 0, time.UTC)}, time.Hour),
			every(3, gift{phoneA, 1000, time.Date(2027, 4, 2, 0, 0, 0, 0, time.UTC)}, time.Hour)...), want: []int{2}},
		{name: "the 31-day cap off", p: noRolling, gifts: append(every(3, gift{phoneA, 1000, time.Date(2027, 3, 29, 0, 0, 0, 0, time.UTC)}, time.Hour),
			every(3, gift{phoneA, 1000, time.Date(2027, 4, 2, 0, 0, 0, 0, time.UTC)}, time.Hour)...)},
		{name: "over the election cycle's cap", gifts: monthly(t0), want: []int{2}},
		{name: "over the year's cap (pac)", p: pac, gifts: monthly(time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)), want: []int{2}},
		{name: "over the per-message cap", gifts: []gift{{phoneA, 2500, t0}}, want: []int{2, 3}},
		{name: "not a price point", gifts: []gift{{phoneA, 700, t0}}, want: []int{3}},
		{name: "no evidence", gifts: three, want: []int{3}, change: func(in *loadtest.Input, _ note.Verifier) {
			in.Donations[1].Evidence = nil
		}},
		{name: "certified by a text that was not the donor's YES", gifts: three, want: []int{3}, change: func(in *loadtest.Input, _ note.Verifier) {
			in.Conversations[0].Yes = []string{"SM" + fmt.Sprintf("%032x", 99)}
		}},
		{name: "certified by another number's YES", gifts: three, want: []int{3}, change: func(in *loadtest.Input, _ note.Verifier) {
			in.Conversations[2].Yes, in.Conversations[0].Yes = in.Conversations[0].Yes, in.Conversations[2].Yes
		}},
		{name: "the PIN came in another text", gifts: three, want: []int{3}, change: func(in *loadtest.Input, _ note.Verifier) {
			in.Donations[0].Evidence.PIN.MessageID = "SM" + fmt.Sprintf("%032x", 98)
		}},
		{name: "the PIN on the web", gifts: three, want: []int{3}, change: func(in *loadtest.Input, _ note.Verifier) {
			in.Donations[0].Evidence.PIN.Channel = "web"
		}},
		{name: "no PIN", gifts: three, want: []int{3}, change: func(in *loadtest.Input, _ note.Verifier) {
			in.Donations[0].Evidence.PIN = nil
		}},
		{name: "charged before the PIN", gifts: three, want: []int{3}, change: func(in *loadtest.Input, _ note.Verifier) {
			ev := in.Donations[0].Evidence
			ev.Charge.PostedAt = ev.PIN.At.Add(-time.Millisecond)
		}},
		{name: "PIN before the certification", gifts: three, want: []int{3}, change: func(in *loadtest.Input, _ note.Verifier) {
			ev := in.Donations[0].Evidence
			ev.PIN.At = in.Donations[0].ReceivedAt.Add(-time.Second)
			ev.Charge.PostedAt = ev.PIN.At
		}},
		{name: "the record not in a checkpoint yet", gifts: three, want: []int{3}, change: func(in *loadtest.Input, _ note.Verifier) {
			in.Donations[2].Evidence.Index, in.Donations[2].Evidence.Record = 3, relabel(in.Donations[2].Evidence.Record, 3)
		}},
		{name: "the record altered", gifts: three, want: []int{3}, change: func(in *loadtest.Input, _ note.Verifier) {
			ev := in.Donations[1].Evidence
			r, _ := certlog.Parse([]byte(ev.Record))
			r.TextVersion = "v2"
			b, _ := r.Marshal()
			ev.Record = string(b)
		}},
		{name: "another donation's record", gifts: three, want: []int{3}, change: func(in *loadtest.Input, _ note.Verifier) {
			in.Donations[0].Evidence, in.Donations[1].Evidence = in.Donations[1].Evidence, in.Donations[0].Evidence
		}},
		{name: "the opening of another number", gifts: three, want: []int{3}, change: func(in *loadtest.Input, _ note.Verifier) {
			in.Donations[0].Evidence.Opening.Phone = phoneB
		}},
		{name: "a checkpoint signed by another key", gifts: three, signed: true, want: []int{3}, change: func(in *loadtest.Input, other note.Verifier) {
			in.Verifier = other
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := tc.p
			if p.ID == "" {
				p = demo
			}
			in, v := world(t, p, tc.gifts...)
			if tc.signed {
				in.Verifier = v
			}
			if tc.change != nil {
				_, other := world(t, p)
				tc.change(&in, other)
			}
			rep := loadtest.Check(in)
			var got []int
			for _, v := range rep.Violations {
				if !slices.Contains(got, v.Invariant) {
					got = append(got, v.Invariant)
				}
				if v.Phone != "" && v.Phone != compliance.MaskPhone(v.Phone) {
					t.Errorf("violation %q shows a number unmasked", v)
				}
			}
			slices.Sort(got)
			if !slices.Equal(got, tc.want) || rep.Hold != (len(tc.want) == 0) {
				t.Errorf("invariants broken %v (hold %v), want %v:\n%v", got, rep.Hold, tc.want, rep.Violations)
			}
			if len(tc.want) == 0 && (rep.Donations != len(tc.gifts) || rep.Charges != len(tc.gifts) || rep.ChargedCents != rep.CompletedCents) {
				t.Errorf("report %+v: want %d donations and charges, the same sums", rep, len(tc.gifts))
			}
		})
	}
}

// relabel returns the record with another index.
func relabel(record string, index int64) string {
	r, _ := certlog.Parse([]byte(record))
	r.Index = index
	b, _ := r.Marshal()
	return string(b)
}
