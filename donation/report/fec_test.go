package report_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/shortcode/shortcode/compliance"
	"github.com/shortcode/shortcode/donation"
	"github.com/shortcode/shortcode/donation/report"
	"github.com/shortcode/shortcode/donation/treasury"
)

// rowsSource is a Source over rows in memory.
type rowsSource []report.Row

func (s rowsSource) Contributions(_ context.Context, _ string, from, to time.Time, fn func(report.Row) error) error {
	for _, r := range s {
		if !r.ReceivedAt.Before(from) && r.ReceivedAt.Before(to) {
			if err := fn(r); err != nil {
				return err
			}
		}
	}
	return nil
}

// people are contributors by phone number.
type people map[string]report.Contributor

func (p people) Contributor(_ context.Context, _, key string) (report.Contributor, error) {
	c, ok := p[key]
	if !ok {
		return c, donation.ErrNotFound
	}
	return c, nil
}

var (
	hope = compliance.Committee{ID: "C00000042", Type: compliance.PAC, Name: "Hope PAC", TimeZone: "America/New_York",
		Treasurer: compliance.Person{Last: "Treasurer", First: "Pat"},
		Address:   compliance.Address{Street1: "1 Main St", City: "Albany", State: "NY", ZIP: "12207"}}
	jose = report.Contributor{Name: compliance.Person{Last: "Núñez", First: "José", Prefix: "Mr."},
		Address:  compliance.Address{Street1: "12 Straße Ave", City: "Troy", State: "NY", ZIP: "12180"},
		Employer: "Acme “Widgets”", Occupation: "Engineer"}
	signedAt = time.Date(2027, 4, 10, 14, 0, 0, 0, time.UTC)
)

// fixture: José gives $100 in January, then in March $80 and $50: his
// aggregate passes $200, so in the first quarter his three gifts are
// itemized (aggregates 100.00, 180.00, 230.00), and in March alone his two
// (180.00, 230.00); the last is refunded. Two others give $20 and $5
// (unitemized); a gift of April 1st Eastern is out of the quarter.
func fixture() rowsSource {
	at := func(s string) time.Time { t, _ := time.Parse(time.RFC3339, s); return t }
	row := func(id, phone string, amount int64, received string) report.Row {
		return report.Row{ID: id, Phone: phone, Amount: amount, ReceivedAt: at(received), Carrier: "SimMobile",
			ChargeRef: "SRV-" + id, CarrierFee: amount * 3 / 10, AggregatorFee: amount / 20, Settlement: report.Receivable}
	}
	rs := rowsSource{
		row("d01", "+12125550100", 10000, "2027-01-15T15:00:00Z"),
		row("d02", "+12125550100", 8000, "2027-03-02T15:00:00Z"),
		row("d03", "+12125550101", 2000, "2027-03-03T15:00:00Z"),
		row("d04", "+12125550100", 5000, "2027-03-20T15:00:00Z"),
		row("d05", "+12125550102", 500, "2027-03-31T20:00:00Z"),
		row("d06", "+12125550102", 500, "2027-04-01T05:00:00Z"),
	}
	rs[3].Refund = &treasury.Refund{ID: "R1", Amount: 5000, Reason: treasury.Excessive, Status: treasury.Refunded,
		FinishedAt: at("2027-03-25T15:00:00Z"), Deadline: at("2027-05-19T15:00:00Z")}
	rs[1].Settlement, rs[1].RemittedNet, rs[1].RemittedAt = report.Remitted, 5600, at("2027-03-30T15:00:00Z")
	rs[2].Settlement = report.WrittenOff
	return rs
}

// TestFEC: the .fec of a quarter with itemized and unitemized donors:
// golden, every record at its full field count, printable ASCII with FS
// and CRLF, accepted by the FEC's schemas, and the rules they do not
// express.
func TestFEC(t *testing.T) {
	scs := schemas(t)
	rg, err := report.NewRange(hope, "2027-01-01", "2027-03-31")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []report.Form{report.F3X, report.F3} {
		var b bytes.Buffer
		s, err := report.FEC(context.Background(), &b, fixture(), people{"+12125550100": jose}, rg, f, signedAt, "v-test")
		if err != nil {
			t.Fatal(err)
		}
		golden(t, "q1-"+string(f)+".fec", b.Bytes())
		if s.Period.Itemized != 23000 || s.Period.Unitemized != 2500 || s.ToDate.Itemized != 23000 || s.ToDate.Unitemized != 2500 {
			t.Errorf("%s lines: period %+v, to date %+v", f, s.Period, s.ToDate)
		}
		for _, c := range b.Bytes() {
			if (c < ' ' || c > '~') && c != 0x1c && c != '\r' && c != '\n' {
				t.Fatalf("%s: byte %#x is not printable ASCII", f, c)
			}
		}
		if n := bytes.Count(b.Bytes(), []byte("\n")); n != bytes.Count(b.Bytes(), []byte("\r\n")) {
			t.Errorf("%s: a record does not end in CRLF", f)
		}
		recs := validate(t, scs, b.Bytes())
		var types []string
		for _, r := range recs {
			types = append(types, r[0])
			if want := report.FieldCounts[r[0]]; len(r) != want {
				t.Errorf("%s record %s: %d fields, want %d", f, r[0], len(r), want)
			}
		}
		if got, want := strings.Join(types, " "), "HDR "+string(f)+"N SA11AI SA11AI SA11AI TEXT TEXT"; got != want {
			t.Errorf("%s records: %s, want %s", f, got, want)
		}
		rules(t, recs)
		if sa := recs[3]; sa[7] != "Nunez" || sa[8] != "Jose" || sa[12] != "12 Strasse Ave" || sa[23] != `Acme "Widgets"` || sa[19] != "20270302" || sa[21] != "180.00" {
			t.Errorf("%s SA row: %q", f, sa)
		}
	}
}

// TestFECLowDollar: a program whose donors stay under $200 has no
// itemized rows, and its total on line 11(a)(ii).
func TestFECLowDollar(t *testing.T) {
	scs := schemas(t)
	rs := fixture()
	rs = append(rs[:1:1], rs[2], rs[4]) // José's January gift alone
	rg, _ := report.NewRange(hope, "2027-01-01", "2027-03-31")
	var b bytes.Buffer
	if _, err := report.FEC(context.Background(), &b, rs, people{}, rg, report.F3X, signedAt, "v-test"); err != nil {
		t.Fatal(err)
	}
	recs := validate(t, scs, b.Bytes())
	rules(t, recs)
	cover := recs[1]
	if len(recs) != 3 || cover[29] != "0.00" || cover[30] != "125.00" || cover[31] != "125.00" || cover[80] != "125.00" {
		t.Errorf("records %d; 11(a)(i) %s (ii) %s (iii) %s, to date (ii) %s", len(recs), cover[29], cover[30], cover[31], cover[80])
	}
}

// TestFECIncomplete: a committee without its treasurer or address, or an
// itemized contributor without employer or occupation, is an error, and
// nothing is written.
func TestFECIncomplete(t *testing.T) {
	rg, _ := report.NewRange(hope, "2027-01-01", "2027-03-31")
	noTreasurer := rg
	noTreasurer.Committee.Treasurer = compliance.Person{}
	noAddress := rg
	noAddress.Committee.Address.ZIP = ""
	noEmployer := jose
	noEmployer.Employer = ""
	for _, tt := range []struct {
		name string
		rg   report.Range
		p    people
		want string
	}{
		{"treasurer", noTreasurer, people{"+12125550100": jose}, "treasurer.last, treasurer.first"},
		{"address", noAddress, people{"+12125550100": jose}, "address.zip"},
		{"employer", rg, people{"+12125550100": noEmployer}, "has no employer"},
		{"unknown contributor", rg, people{}, "has no last name"},
	} {
		var b bytes.Buffer
		_, err := report.FEC(context.Background(), &b, fixture(), tt.p, tt.rg, report.F3X, signedAt, "v-test")
		if !errors.Is(err, report.ErrIncomplete) || !strings.Contains(err.Error(), tt.want) || b.Len() != 0 {
			t.Errorf("%s: %v (%d bytes written), want an incomplete error naming %q", tt.name, err, b.Len(), tt.want)
		}
	}
}

// TestSummary: the period's count and gross, the FEC lines, the fees
// apart, where the money is (gross = remitted + carrier fees +
// receivable + written off), refunds, and forwarding deadlines.
func TestSummary(t *testing.T) {
	rg, _ := report.NewRange(hope, "2027-03-01", "2027-03-31")
	now := time.Date(2027, 4, 5, 12, 0, 0, 0, time.UTC)
	z := report.NewSummarizer(rg, report.F3X, now, 72*time.Hour)
	for _, r := range fixture() {
		z.Add(r)
	}
	s := z.Summary()
	if s.Count != 4 || s.Total != 15500 {
		t.Errorf("count %d total %d", s.Count, s.Total)
	}
	if s.Period != (report.Lines{Itemized: 13000, Unitemized: 2500}) || s.ToDate != (report.Lines{Itemized: 23000, Unitemized: 2500}) {
		t.Errorf("lines: period %+v, to date %+v", s.Period, s.ToDate)
	}
	if s.CarrierFees != 4650 || s.AggregatorFees != 775 {
		t.Errorf("fees: carrier %d, aggregator %d", s.CarrierFees, s.AggregatorFees)
	}
	if got := s.Remitted + s.CarrierFees + s.Receivable + s.WrittenOff + s.Disputed; got != s.Total || s.WrittenOff != 1400 || s.Remitted != 5600 {
		t.Errorf("remitted %d + fees %d + receivable %d + written off %d = %d, want %d", s.Remitted, s.CarrierFees, s.Receivable, s.WrittenOff, got, s.Total)
	}
	if len(s.Refunds) != 1 || s.Refunded != 5000 {
		t.Errorf("refunds %+v", s.Refunds)
	}
	// A PAC forwards in 10 days, 30 for $50 or less: d02 ($80, March 2nd)
	// was due March 12th, d03 ($20, March 3rd) April 2nd: both missed on
	// April 5th. d05 ($5, March 31st) is due April 30th: not near. d04
	// was refunded.
	if len(s.Due) != 2 || s.Due[0].Donation.ID != "d02" || s.Due[1].Donation.ID != "d03" || !s.Due[1].Missed {
		t.Errorf("due: %+v", s.Due)
	}
	for _, f := range []string{"", "F3X", "F3"} {
		if _, err := report.ParseForm(f, hope); err != nil {
			t.Errorf("form %q: %v", f, err)
		}
	}
	if _, err := report.ParseForm("F3P", hope); !errors.Is(err, donation.ErrInvalid) {
		t.Errorf("form F3P: %v", err)
	}
}

// TestASCII: the .fec format's printable ASCII.
func TestASCII(t *testing.T) {
	for in, want := range map[string]string{
		"José Núñez": "Jose Nunez", "Straße": "Strasse", "“quoted” – dash": `"quoted" - dash`, "tab\there": "tab?here",
		"fs\x1cfield": "fs?field", "Zoë Œuvre": "Zoe OEuvre", "北京": "??", "ﬁne": "fine",
	} {
		if got := report.ASCII(in); got != want {
			t.Errorf("ASCII(%q) = %q, want %q", in, got, want)
		}
	}
}
