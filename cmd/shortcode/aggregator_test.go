package main

import (
	"context"
	"fmt"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/shortcode/shortcode/carrier/sim"
	"github.com/shortcode/shortcode/donation"
	"github.com/shortcode/shortcode/storage/storagetest"
)

// fastMain is startMain with the workers and the simulator's timeouts
// shortened, so that retries happen in milliseconds.
func fastMain(t *testing.T, driver string) *Main {
	t.Helper()
	return startMainWith(t, driver, func(m *Main) {
		m.ChargeBackoff, m.Poll, m.SimTimeout = 10*time.Millisecond, 50*time.Millisecond, 100*time.Millisecond
	})
}

// donor is a phone in the simulator: it texts through the simulator's phone
// endpoint and reads the texts the simulator received for it.
type donor struct {
	t     testing.TB
	sim   *sim.Sim
	phone string
	to    string
	seen  int
}

func (d *donor) say(body string) {
	d.t.Helper()
	got, err := d.sim.SendMO(context.Background(), sim.PhoneMO{From: d.phone, To: d.to, Body: body})
	if err != nil || got.Status != 200 {
		d.t.Errorf("%s says %q: webhook answered %d, %v", d.phone, body, got.Status, err)
	}
}

// next waits for the next text to the donor and checks it against re.
func (d *donor) next(re *regexp.Regexp) []string {
	d.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		msgs := d.sim.Messages(d.phone) // newest first
		if len(msgs) > d.seen {
			body := msgs[len(msgs)-1-d.seen].Body
			d.seen++
			m := re.FindStringSubmatch(body)
			if m == nil {
				d.t.Errorf("%s got %q, want %v", d.phone, body, re)
				return []string{body}
			}
			return m
		}
		time.Sleep(5 * time.Millisecond)
	}
	d.t.Fatalf("%s: no text matching %v", d.phone, re)
	return nil
}

var (
	reAmount   = regexp.MustCompile(`Reply 5, 10, 15 or 20`)
	reConfirm  = regexp.MustCompile(`^Reply YES to give \$(\d+) to Demo PAC on your phone bill & certify`)
	rePIN      = regexp.MustCompile(`^Your PIN is (\d{6})\.`)
	reReceipt  = regexp.MustCompile(`^Thank you! \$(\d+) to Demo PAC`)
	reDecline  = regexp.MustCompile(`your carrier could not bill this gift, so no charge was made`)
	reNotUS    = regexp.MustCompile(`open to US mobile numbers only`)
	rePrepaid  = regexp.MustCompile(`prepaid phones cannot give by text`)
	reBusiness = regexp.MustCompile(`phones on business accounts cannot give by text`)
	reLookup   = regexp.MustCompile(`we could not check your number just now`)
)

// TestNumberPlan runs the conversation against the simulator over HTTP for
// every row of SPEC §12.3 and checks the texts, the donation's final state,
// the reservation, and the simulator's own ledger.
func TestNumberPlan(t *testing.T) {
	m := fastMain(t, testDriver())
	rows := []struct {
		name    string
		phone   string
		refusal *regexp.Regexp // screened at the keyword: no donation
		final   donation.Status
		code    string // decline code
	}{
		{"prepaid", "+12015550101", rePrepaid, "", ""},
		{"business-liable", "+12025550102", reBusiness, "", ""},
		{"monthly spending limit", "+12035550103", nil, donation.Declined, "POL1001"},
		{"premium billing blocked", "+12055550105", nil, donation.Declined, "POL0001"},
		{"lookup fails", "+12065550106", reLookup, "", ""},
		{"timeout, charge applied", "+12075550107", nil, donation.Completed, ""},
		{"500 twice, then charged", "+12085550108", nil, donation.Completed, ""},
		{"Canada", "+14165550109", reNotUS, "", ""},
		{"United Kingdom", "+442071838750", reNotUS, "", ""},
		{"postpaid consumer", "+12125550110", nil, donation.Completed, ""},
	}
	for _, row := range rows {
		t.Run(row.name, func(t *testing.T) {
			d := &donor{t: t, sim: m.Sim, phone: row.phone, to: "62262"}
			d.say("GIVE 10")
			if row.refusal != nil {
				d.next(row.refusal)
			} else {
				d.next(reConfirm)
				d.say("YES")
				d.say(d.next(rePIN)[1])
				if row.final == donation.Completed {
					d.next(reReceipt)
				} else {
					d.next(reDecline)
				}
			}
			ds, err := m.Store.Donations(context.Background(), row.phone)
			if err != nil {
				t.Fatal(err)
			}
			var charged []sim.Charge
			for _, c := range m.Sim.Ledger() {
				if c.Phone == row.phone {
					charged = append(charged, c)
				}
			}
			if row.final == "" {
				if len(ds) != 0 || len(charged) != 0 {
					t.Errorf("refused number has donations %+v and charges %+v", ds, charged)
				}
				return
			}
			if len(ds) != 1 {
				t.Fatalf("donations = %+v, want one", ds)
			}
			got := ds[0]
			if got.Status != row.final || got.DeclineCode != row.code || got.Reserved() {
				t.Errorf("donation status %s code %q reserved %v, want %s %q and no reservation", got.Status, got.DeclineCode, got.Reserved(), row.final, row.code)
			}
			want := 0
			if row.final == donation.Completed {
				want = 1
				if got.CarrierFee == 0 || got.AggregatorFee == 0 || got.Carrier == "" {
					t.Errorf("completed donation lacks carrier or fees: %+v", got)
				}
			}
			if len(charged) != want || (want == 1 && (charged[0].Reference != got.ID || charged[0].Amount != 1000 || charged[0].ServerRef != got.ServerRef)) {
				t.Errorf("simulator ledger for %s = %+v, want %d charge of donation %s", row.phone, charged, want, got.ID)
			}
		})
	}
}

// testDriver picks PostgreSQL when the tests have one, else SQLite.
func testDriver() string {
	if storagetest.PostgresAvailable() {
		return "postgres"
	}
	return "sqlite"
}

// TestFaultyCarrier: with the simulator at 20% timeouts and 10% 5xx (and
// some duplicate MO deliveries), 500 donations from 50 numbers each end
// completed or declined, and the simulator's ledger shows exactly one charge
// per completed donation (SPEC §10 (1)).
func TestFaultyCarrier(t *testing.T) {
	if testing.Short() {
		t.Skip("500 donations")
	}
	m := fastMain(t, testDriver())
	m.Sim.SetFaults(sim.Faults{TimeoutRate: 0.2, ErrorRate: 0.1, DuplicateRate: 0.05})
	const numbers, each = 50, 10
	var wg sync.WaitGroup
	for i := range numbers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d := &donor{t: t, sim: m.Sim, phone: fmt.Sprintf("+1212555%04d", 1000+i), to: "62262"}
			for done := 0; done < each; {
				d.say("GIVE 5")
				if got := d.next(regexp.MustCompile(reConfirm.String() + "|" + reLookup.String())); reLookup.MatchString(got[0]) {
					continue // the lookup failed under the faults: screening fails closed
				}
				d.say("YES")
				d.say(d.next(rePIN)[1])
				d.next(regexp.MustCompile(reReceipt.String() + "|" + reDecline.String()))
				done++
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	ledger := map[string]int{}
	for _, c := range m.Sim.Ledger() {
		ledger[c.Reference]++
	}
	completed := 0
	for i := range numbers {
		phone := fmt.Sprintf("+1212555%04d", 1000+i)
		ds, err := m.Store.Donations(context.Background(), phone)
		if err != nil {
			t.Fatal(err)
		}
		var total int64
		for _, d := range ds {
			switch d.Status {
			case donation.Completed:
				completed++
				total += d.Amount
				if ledger[d.ID] != 1 {
					t.Errorf("completed donation %s charged %d times", d.ID, ledger[d.ID])
				}
				delete(ledger, d.ID)
			case donation.Declined:
				if ledger[d.ID] != 0 {
					t.Errorf("declined donation %s was charged", d.ID)
				}
			default:
				t.Errorf("donation %s ended %s", d.ID, d.Status)
			}
		}
		if total > 5000 {
			t.Errorf("%s gave %d cents this month", phone, total)
		}
	}
	if completed != numbers*each {
		t.Errorf("%d donations completed, want %d", completed, numbers*each)
	}
	if len(ledger) != 0 {
		t.Errorf("charges with no completed donation: %v", ledger)
	}
}
