package main

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shortcode/shortcode/carrier"
	"github.com/shortcode/shortcode/carrier/sim"
	"github.com/shortcode/shortcode/donation/auth"
	"github.com/shortcode/shortcode/donation/httpserver"
)

// TestReconciliation: issue 10 item 5, SPEC §9. A month's activity goes
// through a running server and its simulator: completed donations from
// many numbers on both carriers, declines (the number plan's), a refund,
// a forward, two write-offs, the carriers' own settlement files imported
// with their fees, and donations after those files, still receivable. The
// treasurer's summary and contributions report, read through the CLI, must
// equal to the cent what the simulator's ledger and settlement files say,
// summed here without our database: count and gross, the FEC lines, fees,
// remitted, receivable, written off, refunded, forwarded and due; and for
// every contribution, gross = remitted + carrier fee + receivable +
// written off.
func TestReconciliation(t *testing.T) {
	m := fastMain(t, testDriver())
	needRoutes(t, m, "/api/v1/reports/summary")
	dir := t.TempDir()
	env := []string{"SHORTCODE_SERVER=" + m.URL, "SHORTCODE_TOKEN=" + tokenFor(t, m, auth.Treasurer)}
	sc := func(args ...string) string {
		t.Helper()
		r := shortcode(t, dir, env, args...)
		r.want(t, 0, args...)
		if r.code != 0 {
			t.FailNow()
		}
		return r.stdout
	}
	const committee = "C99999999" // the demo program's, in UTC
	// The month, in the committee's zone: the reports' period and the
	// settlement files' days.
	now := time.Now().UTC()
	from := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC)
	to := from.AddDate(0, 1, -1)

	// The script: what each number gives, in order ($50 a month at most
	// per number, so no one is itemized). Last digit even: SimMobile (30%);
	// odd: SimWireless (35%).
	first := map[string][]string{
		"+14155550140": {"10", "20"}, "+14155550141": {"5", "15"}, "+14155550142": {"20"},
		"+14155550143": {"15", "20"}, "+14155550144": {"10"}, "+14155550145": {"20", "5"},
		"+14155550146": {"15"}, "+14155550147": {"5"},
	}
	later := map[string][]string{
		"+14155550140": {"5"}, "+14155550148": {"10"}, "+14155550149": {"20"}, "+14155550151": {"15"},
	}
	// The number plan's declines: a monthly limit, premium billing blocked.
	declines := []string{"+12035550103", "+12055550105"}
	giveAll(t, m.Sim, first, declines)

	// What the carrier applied, by donation id (the charge's reference).
	charges := func() map[string]sim.Charge {
		out := map[string]sim.Charge{}
		for _, c := range m.Sim.Ledger() {
			if c.Kind == sim.KindCharge {
				out[c.Reference] = c
			}
		}
		return out
	}
	phase1 := charges()
	checkCharged(t, m.Sim.Ledger(), first, declines)
	byPhone := func(cs map[string]sim.Charge, phone string) sim.Charge {
		for _, id := range slices.Sorted(maps.Keys(cs)) {
			if cs[id].Phone == phone {
				return cs[id]
			}
		}
		t.Fatalf("no charge to %s", phone)
		return sim.Charge{}
	}

	// A refund at the donor's request, through the carrier.
	refunded := byPhone(phase1, "+14155550142")
	if out := sc("refund", refunded.Reference, "--reason", "donor-request"); !strings.Contains(out, "refunded $20.00 of donation "+refunded.Reference) {
		t.Fatalf("refund: %s", out)
	}

	// The forward of everything received so far and not refunded, its
	// amount summed from the ledger: the server checks it against ours.
	var forwardWant int64
	forwarded := map[string]bool{}
	for id, c := range phase1 {
		if id != refunded.Reference {
			forwardWant += c.Amount
			forwarded[id] = true
		}
	}
	var fwd httpserver.ForwardJSON
	out := sc("forward", "record", "--committee", committee, "--reference", "WIRE-0001", "--amount", dollarString(forwardWant), "--json")
	if err := json.Unmarshal([]byte(out), &fwd); err != nil || fwd.Count != len(forwarded) || cents(t, fwd.Amount) != forwardWant {
		t.Fatalf("forward record: %+v (%v), want %d contributions, %s\n%s", fwd, err, len(forwarded), dollarString(forwardWant), out)
	}

	// Two charges the carriers could not collect, one each, and their
	// settlement files: every line so far.
	writtenOff := []sim.Charge{byPhone(phase1, "+14155550144"), byPhone(phase1, "+14155550147")}
	for _, c := range writtenOff {
		if !m.Sim.WriteOff(c.ServerRef) {
			t.Fatalf("WriteOff %s: false", c.ServerRef)
		}
	}
	files := map[string][]byte{}
	for _, name := range []string{sim.SimMobile, sim.SimWireless} {
		files[name] = m.Sim.Settlement(name, from, to)
	}

	// Later in the month: more donations, not yet in any settlement file.
	giveAll(t, m.Sim, later, nil)
	all := charges()
	checkCharged(t, m.Sim.Ledger(), merge(first, later), declines)

	// The imports: every line matched, the remittance the files' own.
	lines := map[string]settleLine{} // by reference
	for _, name := range []string{sim.SimMobile, sim.SimWireless} {
		var remitted int64
		for _, l := range parseSettlement(t, files[name]) {
			lines[l.reference] = l
			if l.status == "paid" {
				remitted += l.net
			}
		}
		var rep httpserver.ReportJSON
		out := sc("settle", "import", write(t, dir, name+".csv", string(files[name])), "--carrier", name, "--json")
		if err := json.Unmarshal([]byte(out), &rep); err != nil || rep.Problems != 0 || rep.Matched != bytes.Count(files[name], []byte("\r\n"))-1 ||
			cents(t, rep.Remitted) != remitted {
			t.Errorf("settle import %s: %+v (%v), want every line matched and %s remitted\n%s", name, rep, err, dollarString(remitted), files[name])
		}
	}

	// What each contribution should be, from the simulator alone.
	fees := carrier.SimConfig("").Carriers // the aggregator's fee: the carrier file's, as the demo program sets none
	simBPS := map[string]int64{sim.SimMobile: sim.DefaultSimMobileFee, sim.SimWireless: sim.DefaultSimWirelessFee}
	type expect struct {
		state                                          string
		fee, aggregator, remitted, receivable, written int64
	}
	want := map[string]expect{}
	var sum struct {
		count                                                      int
		gross, fees, aggregator, remitted, receivable, written, rf int64
	}
	for id, c := range all {
		e := expect{state: "receivable", fee: (c.Amount*simBPS[c.Carrier] + 5000) / 10000}
		for _, f := range fees {
			if f.Name == c.Carrier {
				e.aggregator = (c.Amount*f.AggregatorBPS+5000)/10000 + f.AggregatorFixed
			}
		}
		switch l, ok := lines[id]; {
		case !ok:
			e.receivable = c.Amount - e.fee
		case l.status == "paid":
			e.state, e.fee, e.remitted = "remitted", l.fee, l.net
		case l.status == "written_off":
			e.state, e.fee, e.written = "written_off", l.fee, l.gross-l.fee
		default:
			t.Fatalf("line of %s: status %q", id, l.status)
		}
		if c.Amount != e.remitted+e.fee+e.receivable+e.written {
			t.Fatalf("%s: the simulator's own books do not add up: %+v of %d", id, e, c.Amount)
		}
		want[id] = e
		sum.count++
		sum.gross += c.Amount
		sum.fees += e.fee
		sum.aggregator += e.aggregator
		sum.remitted += e.remitted
		sum.receivable += e.receivable
		sum.written += e.written
	}
	for _, c := range m.Sim.Ledger() {
		if c.Kind == sim.KindRefund {
			sum.rf += c.Amount
		}
	}
	if sum.written == 0 || sum.receivable == 0 || sum.remitted == 0 || sum.rf != refunded.Amount {
		t.Fatalf("the script did not reach every state: %+v", sum)
	}

	for _, c := range all {
		if c.At.After(to.AddDate(0, 0, 1)) {
			t.Skip("the month turned while the test ran")
		}
	}
	period := []string{"--committee", committee, "--from", from.Format(time.DateOnly), "--to", to.Format(time.DateOnly)}

	// The summary.
	var s summaryAnswer
	out = sc(append([]string{"report", "summary", "--json", "--within", "2400h"}, period...)...)
	if err := json.Unmarshal([]byte(out), &s); err != nil {
		t.Fatalf("summary: %v\n%s", err, out)
	}
	for _, v := range []struct {
		name      string
		got, want int64
	}{
		{"count", int64(s.Count), int64(sum.count)},
		{"total", cents(t, s.Total), sum.gross},
		{"carrier_fees", cents(t, s.CarrierFees), sum.fees},
		{"aggregator_fees", cents(t, s.AggregatorFees), sum.aggregator},
		{"remitted", cents(t, s.Remitted), sum.remitted},
		{"receivable", cents(t, s.Receivable), sum.receivable},
		{"written_off", cents(t, s.WrittenOff), sum.written},
		{"disputed", cents(t, s.Disputed), 0},
		{"refunded", cents(t, s.Refunded), sum.rf},
		{"forwarded_late", int64(s.ForwardedLate), 0},
	} {
		if v.got != v.want {
			t.Errorf("summary %s = %d, want %d from the simulator", v.name, v.got, v.want)
		}
	}
	if got := cents(t, s.Remitted) + cents(t, s.CarrierFees) + cents(t, s.Receivable) + cents(t, s.WrittenOff) + cents(t, s.Disputed); got != cents(t, s.Total) {
		t.Errorf("summary: remitted + fees + receivable + written off + disputed = %d, total %s", got, s.Total)
	}
	// A fresh database: the period and the cycle to date hold the same
	// contributions, all unitemized.
	lineWant := map[string]int64{"11(a)(i)": 0, "11(a)(ii)": sum.gross, "11(a)(iii)": sum.gross}
	if len(s.Lines) != 3 {
		t.Errorf("summary lines: %+v", s.Lines)
	}
	for _, l := range s.Lines {
		if w, ok := lineWant[l.Line]; !ok || cents(t, l.Period) != w || cents(t, l.ToDate) != w {
			t.Errorf("summary line %s: period %s, to date %s, want %s", l.Line, l.Period, l.ToDate, dollarString(w))
		}
	}
	// The same lines as a person reads them, both columns filled.
	total := regexp.QuoteMeta(usd(dollarString(sum.gross)))
	if out := sc(append([]string{"report", "summary"}, period...)...); !regexp.MustCompile(`11\(a\)\(iii\)\s+` + total + `\s+35\s+` + total + `\s+71\n`).MatchString(out) {
		t.Errorf("summary printed:\n%s\nwant 11(a)(iii) %s in columns 35 and 71", out, total)
	}
	if len(s.Refunds) != 1 || s.Refunds[0].DonationID != refunded.Reference || s.Refunds[0].Status != "refunded" ||
		cents(t, s.Refunds[0].Amount) != refunded.Amount || s.Refunds[0].Reason != "donor-request" {
		t.Errorf("summary refunds: %+v, want %s refunded", s.Refunds, refunded.Reference)
	}
	// Due: exactly the later donations, none forwarded or refunded.
	due := map[string]int64{}
	for _, d := range s.Due {
		due[d.DonationID] = cents(t, d.Amount)
		if d.Missed {
			t.Errorf("forwarding of %s missed already", d.DonationID)
		}
	}
	dueWant := map[string]int64{}
	for id, c := range all {
		if _, ok := phase1[id]; !ok {
			dueWant[id] = c.Amount
		}
	}
	if !maps.Equal(due, dueWant) {
		t.Errorf("summary forwarding_due = %v, want the later donations %v", due, dueWant)
	}

	// The contributions report: one row per charge, each reconciled.
	out = sc(append([]string{"report", "contributions", "--format", "csv"}, period...)...)
	recs, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil || len(recs) == 0 {
		t.Fatalf("contributions: %v\n%s", err, out)
	}
	col := map[string]int{}
	for i, name := range recs[0] {
		col[name] = i
	}
	seen := map[string]bool{}
	var forwardedGot int64
	var columns struct{ fees, aggregator, net int64 }
	for _, rec := range recs[1:] {
		get := func(name string) string { return rec[col[name]] }
		id := get("id")
		c, ok := all[id]
		e := want[id]
		if !ok || seen[id] {
			t.Errorf("contribution %s: not a charge of the simulator's, or listed twice", id)
			continue
		}
		seen[id] = true
		amount, fee, agg := cents(t, get("amount")), cents(t, get("carrier_fee")), cents(t, get("aggregator_fee"))
		var remitted int64
		if get("remitted_net") != "" {
			remitted = cents(t, get("remitted_net"))
		}
		receivable, written := int64(0), int64(0)
		switch get("settlement") {
		case "receivable":
			receivable = amount - fee
		case "written_off":
			written = amount - fee
		}
		if amount != remitted+fee+receivable+written {
			t.Errorf("%s: gross %d != remitted %d + fee %d + receivable %d + written off %d", id, amount, remitted, fee, receivable, written)
		}
		if amount != c.Amount || get("phone") != c.Phone || get("carrier") != c.Carrier || get("charge_reference") != c.ServerRef ||
			get("settlement") != e.state || fee != e.fee || agg != e.aggregator || remitted != e.remitted ||
			receivable != e.receivable || written != e.written {
			t.Errorf("%s: row %q, want %+v of the simulator's charge %+v", id, rec, e, c)
		}
		if n := cents(t, get("net")); n != amount-fee-agg {
			t.Errorf("%s: net %d, want %d", id, n, amount-fee-agg)
		}
		status := "completed"
		if id == refunded.Reference {
			status = "refunded"
			if cents(t, get("refund_amount")) != refunded.Amount || get("refund_status") != "refunded" {
				t.Errorf("%s: refund columns of %q", id, rec)
			}
		}
		if get("status") != status {
			t.Errorf("%s: status %s, want %s", id, get("status"), status)
		}
		if (get("forwarded_date") != "") != forwarded[id] {
			t.Errorf("%s: forwarded_date %q, forwarded %v", id, get("forwarded_date"), forwarded[id])
		}
		if forwarded[id] {
			forwardedGot += amount
		}
		columns.fees += fee
		columns.aggregator += agg
		columns.net += amount - fee - agg
	}
	if len(seen) != len(all) {
		t.Errorf("contributions: %d rows, want the simulator's %d charges", len(seen), len(all))
	}
	if forwardedGot != forwardWant {
		t.Errorf("contributions forwarded: %d, want %d", forwardedGot, forwardWant)
	}
	if columns.fees != sum.fees || columns.aggregator != sum.aggregator || columns.net != sum.gross-sum.fees-sum.aggregator {
		t.Errorf("contributions columns: %+v, want fees %d, aggregator %d", columns, sum.fees, sum.aggregator)
	}
}

// giveAll has each number give its amounts in order, the numbers at once,
// each gift through the whole conversation to its receipt; then each
// number of declines tries $10 and is declined.
func giveAll(t *testing.T, s *sim.Sim, gifts map[string][]string, declines []string) {
	t.Helper()
	var wg sync.WaitGroup
	for phone, amounts := range gifts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d := &donor{t: t, sim: s, phone: phone, to: "62262", seen: len(s.Messages(phone))}
			for _, a := range amounts {
				d.say("GIVE " + a)
				d.next(reConfirm)
				d.say("YES")
				d.say(d.next(rePIN)[1])
				d.next(reReceipt)
			}
		}()
	}
	for _, phone := range declines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d := &donor{t: t, sim: s, phone: phone, to: "62262", seen: len(s.Messages(phone))}
			d.say("GIVE 10")
			d.next(reConfirm)
			d.say("YES")
			d.say(d.next(rePIN)[1])
			d.next(reDecline)
		}()
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
}

// checkCharged: the carrier charged each number exactly what the script
// gave, and the declined numbers nothing.
func checkCharged(t *testing.T, ledger []sim.Charge, gifts map[string][]string, declines []string) {
	t.Helper()
	got := map[string][]int64{}
	for _, c := range ledger {
		if c.Kind == sim.KindCharge {
			got[c.Phone] = append(got[c.Phone], c.Amount)
		}
	}
	for phone, amounts := range gifts {
		var want []int64
		for _, a := range amounts {
			n, _ := strconv.ParseInt(a, 10, 64)
			want = append(want, n*100)
		}
		if !slices.Equal(got[phone], want) {
			t.Errorf("the carrier charged %s %v, want %v", phone, got[phone], want)
		}
	}
	for _, phone := range declines {
		if len(got[phone]) != 0 {
			t.Errorf("the carrier charged the declined %s %v", phone, got[phone])
		}
	}
	if len(got) != len(gifts) {
		t.Errorf("the carrier charged %d numbers, want %d", len(got), len(gifts))
	}
}

func merge(a, b map[string][]string) map[string][]string {
	out := map[string][]string{}
	for _, m := range []map[string][]string{a, b} {
		for k, v := range m {
			out[k] = append(out[k], v...)
		}
	}
	return out
}

// settleLine is a line of a simulator's settlement file, read here
// without the treasury package's parser.
type settleLine struct {
	reference, status string
	gross, fee, net   int64
}

func parseSettlement(t *testing.T, b []byte) []settleLine {
	t.Helper()
	recs, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
	if err != nil || len(recs) == 0 || strings.Join(recs[0], ",") != "server_reference_code,reference_code,charged_at,gross,carrier_fee,net,status" {
		t.Fatalf("settlement file: %v\n%s", err, b)
	}
	var out []settleLine
	for _, r := range recs[1:] {
		l := settleLine{reference: r[1], status: r[6], gross: cents(t, r[3]), fee: cents(t, r[4]), net: cents(t, r[5])}
		if l.net != l.gross-l.fee {
			t.Fatalf("settlement line %q: net is not gross minus fee", r)
		}
		out = append(out, l)
	}
	return out
}

// cents reads "12.34" or "-12.34", exactly two decimals, as cents.
func cents(t *testing.T, s string) int64 {
	t.Helper()
	neg := strings.HasPrefix(s, "-")
	whole, frac, ok := strings.Cut(strings.TrimPrefix(s, "-"), ".")
	w, err1 := strconv.ParseInt(whole, 10, 64)
	f, err2 := strconv.ParseInt(frac, 10, 64)
	if !ok || len(frac) != 2 || err1 != nil || err2 != nil || w < 0 || f < 0 {
		t.Fatalf("amount %q: want dollars with 2 decimals", s)
	}
	if neg {
		return -(w*100 + f)
	}
	return w*100 + f
}

// dollarString writes cents as "12.34".
func dollarString(c int64) string {
	return fmt.Sprintf("%d.%02d", c/100, c%100)
}
