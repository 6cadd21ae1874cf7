package donation_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shortcode/shortcode/compliance"
	"github.com/shortcode/shortcode/donation"
)

// FuzzMOText: how an MO's text becomes an input of the state machine
// (SPEC §4.2-4.3). From each state a donor can reach (idle, choosing an
// amount, confirming, certifying, waiting for the PIN, charging, opted out),
// any text is applied by the pure donation.HandleMO, and the result is
// checked against the grammar restated here: STOP-family texts opt out,
// HELP answers and changes nothing, a keyword opens a request (with its
// amount when one follows), NO cancels, YES moves on, an allowed amount is
// reserved, the right PIN posts the charge; any other text changes no
// state and no donation. The result depends only on the normalized text.
//
// Run longer with go test -run '^$' -fuzz '^FuzzMOText$' ./donation/.
func FuzzMOText(f *testing.F) {
	for i, s := range []string{
		"GIVE", "give 10", "Give $10.00", "GIVE 10.001", "GIVE 7", "10", "$20", "$20.5", "-10", "0", "1e3", "YES", "y", "Yes!",
		"NO", "n", "STOP", "stop all", "Stop texting me", "don't text me", "HELP", "info?", "START", "UNSTOP", fuzzPIN,
		"123457", "1234567890123", "  ", "", "\xff", "GIVE\x00", "👍", "STOPWATCH", "END IT", "ǅ", "give\u00a010", "GIVE  10",
	} {
		// Each text from two states; the fuzzer moves them to the others.
		f.Add(s, byte(i))
		f.Add(s, byte(i+len(fuzzScripts)/2))
	}
	for _, seed := range []struct {
		text  string
		state byte
	}{
		{"10", 1}, {"$15", 1}, {"7", 1}, {"YES", 2}, {"no", 2}, {fuzzPIN, 3}, {"123457", 3}, {"N", 3}, {"STOP", 4}, {"GIVE 5", 4},
		{"HELP", 4}, {"GIVE 10", 5}, {"START", 5}, {"hello", 5}, {"YES", 6}, {"YES", 7}, {"000000", 8}, {"what", 2},
	} {
		f.Add(seed.text, seed.state)
	}
	// Each state is reached once; a step never changes its input.
	reached := make([]func() donation.Input, len(fuzzScripts))
	for i, sc := range fuzzScripts {
		reached[i] = fuzzReach(f, sc)
	}
	f.Fuzz(func(t *testing.T, body string, state byte) {
		i := int(state) % len(fuzzScripts)
		sc := fuzzScripts[i]
		in := reached[i]()
		before := in.Subscriber
		var open donation.Donation
		if in.Open != nil {
			open = *in.Open
		}

		res, err := donation.HandleMO(in, fuzzMO(body))
		if err != nil {
			t.Fatalf("%s: HandleMO(%q): %v", sc.name, body, err)
		}
		norm := compliance.Normalize(body)
		// The same step on the normalized text, from the same state.
		again, err := donation.HandleMO(reached[i](), fuzzMO(norm))
		if err != nil {
			t.Fatalf("%s: HandleMO(%q): %v", sc.name, norm, err)
		}
		if got, want := fuzzSummary(res), fuzzSummary(again); got != want {
			t.Fatalf("%s: %q and its normal form %q differ:\n%s\n%s", sc.name, body, norm, got, want)
		}

		after := res.Subscriber
		changed := fuzzChanged(res, open)
		word, rest := compliance.SplitKeyword(norm)
		keyword := word == "GIVE"
		stop := compliance.IsStop(norm) || compliance.LooksLikeStop(norm)
		fail := func(want string) {
			t.Helper()
			t.Fatalf("%s: %q (normalized %q): %s; got %s", sc.name, body, norm, want, fuzzSummary(res))
		}
		unchanged := func() {
			t.Helper()
			if after.State != before.State || after.OptedOut != before.OptedOut || changed != nil {
				fail("want no change of state or donation")
			}
		}
		switch {
		case stop:
			if !after.OptedOut || after.State != donation.Idle {
				fail("want opted out and idle")
			}
			if before.OptedOut {
				if len(res.MTs) != 0 || res.Consent != nil {
					fail("want a repeated STOP to change nothing")
				}
			} else if len(res.MTs) != 1 || res.MTs[0].Kind != donation.OptOutConfirmation || !fuzzHas(res, donation.OptOut) {
				fail("want one opt-out confirmation")
			}
			if before.State != donation.Charging && open.Status == donation.Open && (changed == nil || changed.Status != donation.Cancelled) {
				fail("want the open request cancelled")
			}
			if before.State == donation.Charging && changed != nil {
				fail("want the posted charge left to run")
			}
		case compliance.IsHelp(norm):
			unchanged()
			if len(res.MTs) != 1 {
				fail("want one HELP text")
			}
		case before.OptedOut:
			switch {
			case keyword:
				if after.OptedOut || !fuzzHas(res, donation.OptIn) || !fuzzHas(res, donation.Keyword) {
					fail("want an opt-in and a new request")
				}
			case compliance.IsOptIn(norm) || compliance.IsYes(norm):
				if after.OptedOut || !fuzzHas(res, donation.OptIn) || after.State != donation.Idle {
					fail("want an opt-in")
				}
			default:
				unchanged()
				if len(res.MTs) != 0 || len(res.Effects) != 0 {
					fail("want no reply to an opted-out number")
				}
			}
		case keyword && before.State == donation.Charging:
			unchanged()
		case keyword:
			if !fuzzHas(res, donation.Keyword) || after.DonationID == "" || after.DonationID == before.DonationID {
				fail("want a new request")
			}
			amount, ok := compliance.ParseAmount(rest)
			switch {
			case ok && slices.Contains(fuzzProgram(sc.separate).PricePoints, amount):
				if after.State != donation.Confirming || !fuzzHas(res, donation.Reserve) || res.Donations[len(res.Donations)-1].Amount != amount {
					fail(fmt.Sprintf("want %d cents reserved", amount))
				}
			default:
				if after.State != donation.ChoosingAmount || fuzzHas(res, donation.Reserve) {
					fail("want the amount prompt")
				}
			}
		case before.State == donation.Idle:
			unchanged()
		case before.State == donation.Charging:
			unchanged()
			if len(res.MTs) != 1 {
				fail("want the processing text")
			}
		case compliance.IsNo(norm):
			if after.State != donation.Idle || changed == nil || changed.Status != donation.Cancelled || open.Reserved() != fuzzHas(res, donation.Release) {
				fail("want the request cancelled and released")
			}
		case before.State == donation.ChoosingAmount:
			amount, ok := compliance.ParseAmount(norm)
			if ok && slices.Contains(fuzzProgram(sc.separate).PricePoints, amount) {
				if after.State != donation.Confirming || changed == nil || changed.Amount != amount || !fuzzHas(res, donation.Reserve) {
					fail(fmt.Sprintf("want %d cents reserved", amount))
				}
				break
			}
			unchanged()
		case (before.State == donation.Confirming || before.State == donation.Certifying) && compliance.IsYes(norm):
			want := donation.VerifyingPIN
			if before.State == donation.Confirming && sc.separate {
				want = donation.Certifying
			}
			if after.State != want {
				fail("want " + string(want))
			}
			if (want == donation.VerifyingPIN) != (res.Certification != nil) {
				fail("want a certification exactly when the PIN is sent")
			}
		case before.State == donation.VerifyingPIN && norm == fuzzPIN:
			if after.State != donation.Charging || !fuzzHas(res, donation.Charge) || res.Verification == nil {
				fail("want the charge posted")
			}
		case before.State == donation.VerifyingPIN && fuzzDigits(norm):
			// A wrong PIN counts a try, and changes nothing else.
			if after.State != donation.VerifyingPIN || changed == nil || changed.PINTries != open.PINTries+1 || changed.Status != donation.Open {
				fail("want one more PIN try")
			}
		default:
			unchanged()
			if after.Reprompts != before.Reprompts+1 || len(res.MTs) != 1 {
				fail("want a re-prompt")
			}
		}
		if res.Certification != nil && !fuzzHas(res, donation.Certify) {
			fail("a certification without its effect")
		}
	})
}

// fuzzPIN is the PIN every certification of the fuzz target sends.
const fuzzPIN = "424242"

// fuzzScript is how a donor reaches a state: the texts sent from a new
// number to the demo program.
type fuzzScript struct {
	name     string
	separate bool // the program asks intent and certification apart
	texts    []string
}

var fuzzScripts = []fuzzScript{
	{"idle", false, nil},
	{"choosing", false, []string{"GIVE"}},
	{"confirming", false, []string{"GIVE", "10"}},
	{"verifying", false, []string{"GIVE", "10", "YES"}},
	{"charging", false, []string{"GIVE", "10", "YES", fuzzPIN}},
	{"opted out", false, []string{"GIVE", "STOP"}},
	{"confirming (separate)", true, []string{"GIVE 20"}},
	{"certifying (separate)", true, []string{"GIVE 20", "YES"}},
	{"one wrong PIN", false, []string{"GIVE", "5", "Y", "000000"}},
}

func fuzzProgram(separate bool) compliance.Program {
	p := compliance.DemoProgram("https://sc.example")
	if separate {
		p.Mode = compliance.Separate
	}
	return p
}

func fuzzMO(body string) donation.MO {
	return donation.MO{Gateway: "test", MessageID: "SM" + strings.Repeat("0", 32), From: "+12125550100", To: "62262", Body: body, At: start}
}

// fuzzInput is the input of a step from sub and its open donation: a US
// postpaid line, no history but the open request's own reservation.
func fuzzInput(sc fuzzScript, sub donation.Subscriber, open *donation.Donation, n int) donation.Input {
	ids := 0
	return donation.Input{
		Now:        start.Add(time.Duration(n) * time.Second),
		Programs:   []compliance.Program{fuzzProgram(sc.separate)},
		Subscriber: sub,
		Open:       open,
		Usage: func(string) ([]compliance.Entry, error) {
			if open == nil || open.ReservedAt.IsZero() {
				return nil, nil
			}
			return []compliance.Entry{{At: open.ReservedAt, Until: open.ExpiresAt, Amount: open.Amount}}, nil
		},
		Line:     &donation.Line{Country: "US", Carrier: "SimMobile", Type: donation.Postpaid},
		NewID:    func() string { ids++; return fmt.Sprintf("D%d-%d", n, ids) },
		NewPIN:   func() string { return fuzzPIN },
		NewToken: func() string { return "tok" },
		NewSalt:  func() [16]byte { return [16]byte{1} },
		PINKey:   []byte("fuzz PIN key"),
	}
}

// fuzzReach plays sc's texts and returns how to make the input of the next
// step.
func fuzzReach(t testing.TB, sc fuzzScript) func() donation.Input {
	sub := donation.Subscriber{Phone: "+12125550100", ShortCode: "62262", State: donation.Idle}
	var open *donation.Donation
	for i, text := range sc.texts {
		res, err := donation.HandleMO(fuzzInput(sc, sub, open, i), fuzzMO(text))
		if err != nil {
			t.Fatalf("%s: %q: %v", sc.name, text, err)
		}
		sub = res.Subscriber
		for _, d := range res.Donations {
			if d.ID == sub.DonationID {
				d := d
				open = &d
			}
		}
		if sub.DonationID == "" {
			open = nil
		}
	}
	return func() donation.Input {
		var o *donation.Donation
		if open != nil {
			d := *open
			o = &d
		}
		return fuzzInput(sc, sub, o, len(sc.texts))
	}
}

// fuzzChanged returns the last version in res of the donation that was
// open, or of any donation when none was; nil when res changes none.
func fuzzChanged(res donation.Result, open donation.Donation) *donation.Donation {
	var last *donation.Donation
	for i := range res.Donations {
		if open.ID == "" || res.Donations[i].ID == open.ID {
			last = &res.Donations[i]
		}
	}
	return last
}

func fuzzHas(res donation.Result, kind donation.EffectKind) bool {
	return slices.ContainsFunc(res.Effects, func(e donation.Effect) bool { return e.Kind == kind })
}

func fuzzDigits(s string) bool {
	return s != "" && len(s) <= 12 && strings.Trim(s, "0123456789") == ""
}

// fuzzSummary is what a step decided, without the MO's own text.
func fuzzSummary(res donation.Result) string {
	var b strings.Builder
	s := res.Subscriber
	fmt.Fprintf(&b, "state %s opted out %v donation %q reprompts %d;", s.State, s.OptedOut, s.DonationID, s.Reprompts)
	for _, d := range res.Donations {
		fmt.Fprintf(&b, " %s %s %d tries %d;", d.ID, d.Status, d.Amount, d.PINTries)
	}
	for _, m := range res.MTs {
		fmt.Fprintf(&b, " mt %q;", m.Body)
	}
	for _, e := range res.Effects {
		fmt.Fprintf(&b, " %s;", e.Kind)
	}
	fmt.Fprintf(&b, " certified %v verified %v consent %v", res.Certification != nil, res.Verification != nil, res.Consent != nil)
	return b.String()
}
