package treasury_test

import (
	"strings"
	"testing"
	"time"

	"github.com/shortcode/shortcode/compliance"
	"github.com/shortcode/shortcode/donation"
	"github.com/shortcode/shortcode/donation/treasury"
)

const header = "server_reference_code,reference_code,charged_at,gross,carrier_fee,net,status\n"

func TestParseSettlement(t *testing.T) {
	f, err := treasury.ParseSettlement("SimMobile", "f.csv", strings.NewReader(header+
		"SRV1,D1,2027-03-10T15:00:00Z,10.00,3.00,7.00,paid\r\n"+
		"SRV2,R1,2027-03-11T15:00:00Z,-10.00,-3.00,-7.00,paid\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := []treasury.Line{
		{No: 1, ServerRef: "SRV1", Reference: "D1", ChargedAt: time.Date(2027, 3, 10, 15, 0, 0, 0, time.UTC), Gross: 1000, CarrierFee: 300, Net: 700, Status: "paid"},
		{No: 2, ServerRef: "SRV2", Reference: "R1", ChargedAt: time.Date(2027, 3, 11, 15, 0, 0, 0, time.UTC), Gross: -1000, CarrierFee: -300, Net: -700, Status: "paid"},
	}
	if len(f.Lines) != 2 || f.Lines[0] != want[0] || f.Lines[1] != want[1] {
		t.Errorf("lines = %+v, want %+v", f.Lines, want)
	}
	if len(f.SHA256) != 64 {
		t.Errorf("sha256 %q", f.SHA256)
	}
}

// TestParseSettlementBOM: a file saved by Excel starts with a UTF-8 byte
// order mark; it parses, and is the same file as without one.
func TestParseSettlementBOM(t *testing.T) {
	body := header + "SRV1,D1,2027-03-10T15:00:00Z,10.00,3.00,7.00,paid\r\n"
	plain, err := treasury.ParseSettlement("SimMobile", "f.csv", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	excel, err := treasury.ParseSettlement("SimMobile", "f.csv", strings.NewReader("\uFEFF"+body))
	if err != nil || len(excel.Lines) != 1 || excel.Lines[0] != plain.Lines[0] || excel.SHA256 != plain.SHA256 {
		t.Errorf("with a BOM: %+v, %v; want %+v", excel, err, plain)
	}
	for _, bad := range []string{"\uFEFF\uFEFF" + body, "\xff\xfe" + body, header + "SRV1,D\xff,2027-03-10T15:00:00Z,10.00,3.00,7.00,paid\n"} {
		if _, err := treasury.ParseSettlement("SimMobile", "f.csv", strings.NewReader(bad)); donation.KindOf(err) != donation.Invalid {
			t.Errorf("%.12q: %v, want an invalid error", bad, err)
		}
	}
}

func TestParseSettlementBad(t *testing.T) {
	cases := []struct{ name, file, want string }{
		{"empty", "", "header"},
		{"wrong header", "ref,amount\n", "header"},
		{"reordered header", "reference_code,server_reference_code,charged_at,gross,carrier_fee,net,status\n", "header is"},
		{"too few fields", header + "SRV1,D1,2027-03-10T15:00:00Z,10.00,3.00,7.00\n", "line 1"},
		{"bad date", header + "SRV1,D1,10/03/2027,10.00,3.00,7.00,paid\n", "charged_at"},
		{"bad amount", header + "SRV1,D1,2027-03-10T15:00:00Z,10,3.00,7.00,paid\n", "gross"},
		{"float amount", header + "SRV1,D1,2027-03-10T15:00:00Z,1e3,3.00,7.00,paid\n", "gross"},
		{"bad status", header + "SRV1,D1,2027-03-10T15:00:00Z,10.00,3.00,7.00,lost\n", "status"},
		{"no reference", header + "SRV1,,2027-03-10T15:00:00Z,10.00,3.00,7.00,paid\n", "empty"},
		{"bad quoting", header + "\"SRV1,D1,2027-03-10T15:00:00Z,10.00,3.00,7.00,paid\n", "line 1"},
	}
	for _, c := range cases {
		_, err := treasury.ParseSettlement("SimMobile", "f.csv", strings.NewReader(c.file))
		if donation.KindOf(err) != donation.Invalid || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err %v, want one mentioning %q", c.name, err, c.want)
		}
	}
	if _, err := treasury.ParseSettlement("", "f.csv", strings.NewReader(header)); err == nil {
		t.Error("no carrier: want an error")
	}
}

func TestMatch(t *testing.T) {
	d := &donation.Donation{ID: "D1", Status: donation.Completed, Carrier: "SimMobile", ServerRef: "SRV1", Amount: 1000}
	r := &treasury.Refund{ID: "R1", Status: treasury.Refunded, Carrier: "SimMobile", ServerRef: "SRV2", Amount: 1000}
	line := treasury.Line{ServerRef: "SRV1", Reference: "D1", Gross: 1000, CarrierFee: 300, Net: 700, Status: "paid"}
	refund := treasury.Line{ServerRef: "SRV2", Reference: "R1", Gross: -1000, CarrierFee: -300, Net: -700, Status: "paid"}
	with := func(l treasury.Line, f func(*treasury.Line)) treasury.Line { f(&l); return l }
	declined := *d
	declined.Status = donation.Declined
	cases := []struct {
		name    string
		line    treasury.Line
		d       *donation.Donation
		r       *treasury.Refund
		settled bool
		want    string
	}{
		{"charge", line, d, nil, false, ""},
		{"refund", refund, nil, r, false, ""},
		{"unknown reference", line, nil, nil, false, "unmatched"},
		{"wrong amount", with(line, func(l *treasury.Line) { l.Gross, l.Net = 2000, 1700 }), d, nil, false, "gross $20.00, donation was $10.00"},
		{"net not gross minus fee", with(line, func(l *treasury.Line) { l.Net = 800 }), d, nil, false, "net $8.00"},
		{"other server reference", with(line, func(l *treasury.Line) { l.ServerRef = "SRV9" }), d, nil, false, "server reference SRV9"},
		{"duplicate", line, d, nil, true, "duplicate"},
		{"declined donation", line, &declined, nil, false, "is declined"},
		{"refund amount", with(refund, func(l *treasury.Line) { l.Gross, l.Net = -500, -200 }), nil, r, false, "refund was -$10.00"},
	}
	for _, c := range cases {
		got := treasury.Match(c.line, "SimMobile", c.d, c.r, c.settled)
		if (c.want == "" && got != "") || (c.want != "" && !strings.Contains(got, c.want)) {
			t.Errorf("%s: Match = %q, want %q", c.name, got, c.want)
		}
	}
	if got := treasury.Match(line, "SimWireless", d, nil, false); !strings.Contains(got, "billed through SimMobile") {
		t.Errorf("other carrier: %q", got)
	}
}

func TestDeadlines(t *testing.T) {
	received := time.Date(2027, 3, 10, 15, 0, 0, 0, time.UTC)
	found := time.Date(2027, 4, 1, 0, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	if got := treasury.RefundDeadline(treasury.Prohibited, received, found); !got.Equal(found.Add(30 * day)) {
		t.Errorf("prohibited: %v", got)
	}
	if got := treasury.RefundDeadline(treasury.Excessive, received, found); !got.Equal(received.Add(60 * day)) {
		t.Errorf("excessive: %v", got)
	}
	if got := treasury.RefundDeadline(treasury.DonorRequest, received, found); !got.IsZero() {
		t.Errorf("donor request: %v", got)
	}
	candidate := compliance.Committee{Type: compliance.Candidate}
	pac := compliance.Committee{Type: compliance.PAC}
	for _, c := range []struct {
		committee compliance.Committee
		amount    int64
		days      int
	}{{candidate, 1000, 10}, {candidate, 5000, 10}, {pac, 5000, 30}, {pac, 5001, 10}} {
		if got := treasury.ForwardDeadline(c.committee, c.amount, received); !got.Equal(received.Add(time.Duration(c.days) * day)) {
			t.Errorf("%s %d: %v, want %d days", c.committee.Type, c.amount, got, c.days)
		}
	}
}

func TestParseReason(t *testing.T) {
	for _, ok := range []string{"prohibited", "excessive", "donor-request"} {
		if _, err := treasury.ParseReason(ok); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "PROHIBITED", "fraud"} {
		if _, err := treasury.ParseReason(bad); err == nil {
			t.Errorf("%q: want an error", bad)
		}
	}
}
