package report_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shortcode/shortcode/compliance"
	"github.com/shortcode/shortcode/donation"
	"github.com/shortcode/shortcode/donation/report"
	"github.com/shortcode/shortcode/donation/treasury"
)

var (
	fuzzSchemasOnce sync.Once
	fuzzSchemas     map[string]*schema
)

// FuzzFEC: generated contributions -> .fec -> parsed back: every record
// valid against the FEC's schemas (the harness of schema_test.go) and
// their rules, and the values the same: one SA11AI row per contribution
// of an itemized contributor (over $200 in the year), in order, with its
// date, amount, running aggregate and the contributor's details as ASCII,
// and the cover's lines 11(a) the sums of the period. A contributor the FEC
// needs itemized but without a name, address, employer or occupation, or
// with one longer than the FEC takes, makes the file ErrIncomplete, and
// nothing is written.
//
// gifts holds 3 bytes per contribution: the donor (one of three; the
// first is the fuzzer's person), and the amount in cents.
func FuzzFEC(f *testing.F) {
	f.Add("Núñez", "José", "12 Straße Ave", "Troy", "NY", "12180", "Acme “Widgets”", "Engineer", []byte{0, 0x27, 0x10, 0, 0x1f, 0x40, 1, 0, 200, 0, 0x13, 0x88}, false, false)
	f.Add("Doe", "Jane", "1 Main St", "Town", "NY", "10001", "School", "Teacher", []byte{0, 0x4e, 0x20}, true, false)
	f.Add("O'Brien-Smith", "Ann", "PO Box 1", "Albany", "NY", "12207-1234", "Self", "Writer", []byte{2, 0xff, 0xff, 0, 1, 0}, false, false)
	f.Add("", "Zoë", " ", "\x00", "ny", "1", "", "\u00a0", []byte{0, 0x7f, 0xff}, true, false)
	f.Add("李", "小龙", "北京", "Beijing", "XX", "00000", "Ω", "∑", []byte{0, 0x4e, 0x21, 1, 0x4e, 0x21, 2, 0x4e, 0x21}, false, false)
	f.Add("Treasurer", "Pat", "1 Main St", "Albany", "New York", "12207", "School", "Teacher", []byte{0, 0x4e, 0x20}, false, true)
	f.Add("Treasurer", "Pat", "1 Main St", "Albany", "NY", "1220", "School", "Teacher", []byte{0, 0x4e, 0x20}, true, true)
	f.Add("Treasurer", "Pat", "1 Main St", "Albany", "NY", "12207-1234", "School", "Teacher", []byte{1, 0x4e, 0x20}, false, true)
	f.Fuzz(func(t *testing.T, last, first, street, city, state, zip, employer, occupation string, gifts []byte, f3, cover bool) {
		fuzzSchemasOnce.Do(func() { fuzzSchemas = schemas(t) })
		if fuzzSchemas == nil {
			t.Fatal("no FEC schemas")
		}
		form := report.F3X
		if f3 {
			form = report.F3
		}
		person := report.Contributor{Name: compliance.Person{Last: last, First: first},
			Address: compliance.Address{Street1: street, City: city, State: state, ZIP: zip}, Employer: employer, Occupation: occupation}
		phones := []string{"+12125550100", "+12125550101", "+12125550102"}
		// Contributors are keyed by phone number (report.Key) until
		// identified mode: each number is a different person here.
		jane := report.Contributor{Name: compliance.Person{Last: "Doe", First: "Jane"},
			Address: compliance.Address{Street1: "1 Main St", City: "Town", State: "NY", ZIP: "10001"}, Employer: "School", Occupation: "Teacher"}
		who := people{phones[0]: person, phones[1]: jose, phones[2]: jane}
		id := func(c report.Contributor) string {
			n, a := c.Name, c.Address
			return report.ASCII(strings.Join([]string{n.Last, n.First, n.Middle, n.Prefix, n.Suffix, a.Street1, a.Street2, a.City, a.State, a.ZIP}, "|"))
		}
		if id(person) == id(jose) || id(person) == id(jane) {
			return // one person on two numbers: aggregated apart until identified mode
		}

		// Contributions a day apart from New Year's Day, Eastern; the
		// report is the first quarter's.
		var rows rowsSource
		for i := 0; i+2 < len(gifts) && i < 3*60; i += 3 {
			amount := int64(gifts[i+1])<<8 | int64(gifts[i+2])
			if amount == 0 {
				continue
			}
			id := fmt.Sprintf("d%03d", i/3)
			at := time.Date(2027, 1, 1, 17, 0, 0, 0, time.UTC).Add(time.Duration(i/3) * 24 * time.Hour)
			rows = append(rows, report.Row{ID: id, Phone: phones[int(gifts[i])%3], Amount: amount, ReceivedAt: at,
				Carrier: "SimMobile", ChargeRef: "SRV-" + id, Settlement: report.Receivable})
			if gifts[i]&0x80 != 0 {
				rows[len(rows)-1].Refund = &treasury.Refund{ID: "R" + id, Amount: amount, Reason: treasury.Excessive,
					Status: treasury.Refunded, FinishedAt: at.Add(time.Hour), Deadline: at.Add(60 * 24 * time.Hour)}
			}
		}
		// With cover, the fuzzer's name and address are also the
		// treasurer's and the committee's.
		committee := hope
		if cover {
			committee.Treasurer = compliance.Person{Last: last, First: first}
			committee.Address = compliance.Address{Street1: street, City: city, State: state, ZIP: zip}
		}
		rg, err := report.NewRange(committee, "2027-01-01", "2027-03-31")
		if err != nil {
			t.Fatal(err)
		}
		coverOK := true
		for _, f := range fuzzCoverFields(committee) {
			v := report.ASCII(f.v)
			coverOK = coverOK && strings.TrimSpace(v) != "" && len(v) >= f.min && len(v) <= f.max
		}
		coverOK = coverOK && regexp.MustCompile(`^[A-Z]{2}$`).MatchString(report.ASCII(committee.Address.State))

		// What the file must say: the period's sums, and the itemized
		// contributors' rows with their running aggregates.
		totals, byDonor := map[string]int64{}, map[string]int64{}
		var sum int64
		for _, r := range rows {
			if r.ReceivedAt.Before(rg.End()) {
				totals[r.Phone] += r.Amount
				sum += r.Amount
			}
		}
		var want [][]string // date, amount, aggregate, last name
		incomplete := false
		for _, r := range rows {
			if !r.ReceivedAt.Before(rg.End()) || totals[r.Phone] <= 200_00 {
				continue
			}
			byDonor[r.Phone] += r.Amount
			p := who[r.Phone]
			for _, f := range fuzzFields(p) {
				v := report.ASCII(f.v)
				incomplete = incomplete || len(v) > f.max || f.required && strings.TrimSpace(v) == ""
			}
			want = append(want, []string{r.ReceivedAt.In(hope.Location()).Format("20060102"), treasury.Decimal(r.Amount),
				treasury.Decimal(byDonor[r.Phone]), report.ASCII(p.Name.Last), report.ASCII(p.Employer)})
		}

		var b bytes.Buffer
		s, err := report.FEC(context.Background(), &b, rows, who, rg, form, signedAt, "v-fuzz")
		if incomplete || !coverOK {
			if !errors.Is(err, report.ErrIncomplete) || donation.KindOf(err) != donation.Conflict || b.Len() != 0 {
				t.Fatalf("the cover (ok %v) or an itemized contributor (incomplete %v) the FEC cannot take: %v, %d bytes written", coverOK, incomplete, err, b.Len())
			}
			return
		}
		if err != nil {
			t.Fatalf("FEC: %v", err)
		}
		if s.Period.Itemized+s.Period.Unitemized != sum {
			t.Fatalf("summary %+v, contributions %d cents", s.Period, sum)
		}
		for _, c := range b.Bytes() {
			if (c < ' ' || c > '~') && c != 0x1c && c != '\r' && c != '\n' {
				t.Fatalf("byte %#x is not printable ASCII", c)
			}
		}
		if bytes.Count(b.Bytes(), []byte("\n")) != bytes.Count(b.Bytes(), []byte("\r\n")) {
			t.Fatal("a record does not end in CRLF")
		}
		recs := validate(t, fuzzSchemas, b.Bytes())
		rules(t, recs)
		var got [][]string
		for _, r := range recs {
			if want := report.FieldCounts[r[0]]; len(r) != want {
				t.Fatalf("record %s: %d fields, want %d", r[0], len(r), want)
			}
			if r[0] == "SA11AI" {
				got = append(got, []string{r[19], r[20], r[21], r[7], r[23]})
			}
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("SA11AI rows (date, amount, aggregate, name, employer):\n%q\nwant\n%q", got, want)
		}
		coverRec := recs[1]
		period, _ := form.Columns()
		if coverRec[period[2]-1] != treasury.Decimal(sum) {
			t.Fatalf("11(a)(iii) %s, contributions %s", coverRec[period[2]-1], treasury.Decimal(sum))
		}
	})
}

// fuzzCoverFields are the cover's fields from the committee's
// configuration, with the shortest and longest the FEC's F3X and F3
// schemas take; the file needs them all, and the state as two capital
// letters.
func fuzzCoverFields(c compliance.Committee) []struct {
	v        string
	min, max int
} {
	return []struct {
		v        string
		min, max int
	}{
		{c.Name, 1, 200}, {c.Address.Street1, 1, 34}, {c.Address.City, 1, 30}, {c.Address.State, 2, 2}, {c.Address.ZIP, 5, 9},
		{c.Treasurer.Last, 1, 30}, {c.Treasurer.First, 1, 20},
	}
}

// fuzzFields are a contributor's Schedule A fields with the longest the
// FEC's SchA schema takes, and whether the file needs them.
func fuzzFields(p report.Contributor) []struct {
	v        string
	max      int
	required bool
} {
	n, a := p.Name, p.Address
	return []struct {
		v        string
		max      int
		required bool
	}{
		{n.Last, 30, true}, {n.First, 20, true}, {n.Middle, 20, false}, {n.Prefix, 10, false}, {n.Suffix, 10, false},
		{a.Street1, 34, true}, {a.Street2, 34, false}, {a.City, 30, true}, {a.State, 2, true}, {a.ZIP, 9, true},
		{p.Employer, 38, true}, {p.Occupation, 38, true},
	}
}
