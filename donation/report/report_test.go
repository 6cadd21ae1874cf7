package report_test

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shortcode/shortcode/compliance"
	"github.com/shortcode/shortcode/donation"
	"github.com/shortcode/shortcode/donation/report"
	"github.com/shortcode/shortcode/donation/treasury"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (go test -update to accept):\n%s\nwant:\n%s", name, got, want)
	}
}

var eastern = compliance.Committee{ID: "C00000042", Type: compliance.PAC, Name: "Hope PAC", TimeZone: "America/New_York"}

// rows are three contributions: one remitted and forwarded, one refunded
// for a prohibited source (its name has a comma and a quote, as a carrier
// may write one), one received at 23:30 Eastern on March 31st, which is
// April 1st in UTC.
func rows() []report.Row {
	at := func(s string) time.Time { t, _ := time.Parse(time.RFC3339, s); return t }
	return []report.Row{
		{ID: "D01", Phone: "+12125550100", Amount: 1000, ReceivedAt: at("2027-03-09T15:00:00Z"), Carrier: "SimMobile",
			CertificationSeq: 1, ChargeRef: "SRV-1", CarrierFee: 300, AggregatorFee: 50, Settlement: report.Remitted,
			RemittedAt: at("2027-05-01T12:00:00Z"), RemittedNet: 700, ForwardedAt: at("2027-03-15T12:00:00Z")},
		{ID: "D02", Phone: "+12125550101", Amount: 2000, ReceivedAt: at("2027-03-10T15:00:00Z"), Carrier: `Sim "Wireless", Inc.`,
			CertificationSeq: 2, ChargeRef: "SRV-2", CarrierFee: 600, AggregatorFee: 100, Settlement: report.Receivable,
			Refund: &treasury.Refund{ID: "R1", Amount: 2000, Reason: treasury.Prohibited, Status: treasury.Refunded,
				FinishedAt: at("2027-03-12T15:00:00Z"), Deadline: at("2027-04-11T15:00:00Z")}},
		{ID: "D03", Phone: "+12125550102", Amount: 500, ReceivedAt: at("2027-04-01T03:30:00Z"), Carrier: "SimMobile",
			ChargeRef: "SRV-3", CarrierFee: 150, AggregatorFee: 25, Settlement: report.WrittenOff},
	}
}

// TestWriter: the report in CSV (RFC 4180: CRLF, quoted fields) and JSON
// (the same columns, in order), dates in the committee's time zone,
// amounts as dollars with 2 decimals.
func TestWriter(t *testing.T) {
	loc := eastern.Location()
	for _, f := range []report.Format{report.CSV, report.JSON} {
		var b bytes.Buffer
		w := report.NewWriter(&b, f, loc)
		for _, r := range rows() {
			if err := w.Write(r); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		golden(t, "contributions."+string(f), b.Bytes())
		switch f {
		case report.CSV:
			recs, err := csv.NewReader(bytes.NewReader(b.Bytes())).ReadAll()
			if err != nil || len(recs) != 4 || strings.Join(recs[0], ",") != strings.Join(report.Columns, ",") {
				t.Fatalf("CSV: %v, %d records", err, len(recs))
			}
			if got := recs[3][3]; got != "2027-03-31" {
				t.Errorf("D03 date_received %s, want 2027-03-31 (Eastern)", got)
			}
			if !bytes.Contains(b.Bytes(), []byte("\r\n")) {
				t.Error("CSV lines do not end in CRLF")
			}
		case report.JSON:
			var objs []map[string]string
			if err := json.Unmarshal(b.Bytes(), &objs); err != nil || len(objs) != 3 {
				t.Fatalf("JSON: %v, %d objects", err, len(objs))
			}
			if o := objs[1]; o["amount"] != "20.00" || o["net"] != "13.00" || o["status"] != "refunded" || o["refund_date"] != "2027-03-12" {
				t.Errorf("D02: %v", o)
			}
		}
	}
}

// TestWriterEmpty: a report of no rows is its header, or [].
func TestWriterEmpty(t *testing.T) {
	for f, want := range map[report.Format]string{report.CSV: strings.Join(report.Columns, ",") + "\r\n", report.JSON: "[\n]\n"} {
		var b bytes.Buffer
		if err := report.NewWriter(&b, f, time.UTC).Close(); err != nil || b.String() != want {
			t.Errorf("%s: %q, %v; want %q", f, b.String(), err, want)
		}
	}
}

// TestNewRange: both dates, from not after to, one reporting year; the
// period's instants are the committee's midnights.
func TestNewRange(t *testing.T) {
	r, err := report.NewRange(eastern, "2027-01-01", "2027-03-31")
	if err != nil {
		t.Fatal(err)
	}
	if got := r.Start().Format(time.RFC3339); got != "2027-01-01T05:00:00Z" {
		t.Errorf("start %s", got)
	}
	if got := r.End().Format(time.RFC3339); got != "2027-04-01T04:00:00Z" {
		t.Errorf("end %s", got)
	}
	for _, tt := range []struct{ from, to, want string }{
		{"2027-03-31", "2027-01-01", "after"},
		{"2026-12-01", "2027-01-31", "spans the reporting years 2026 and 2027"},
		{"", "2027-01-31", "both dates"},
		{"2027-02-30", "2027-03-01", "want a date"},
		{"2027-01-01", "31/03/2027", "want a date"},
	} {
		_, err := report.NewRange(eastern, tt.from, tt.to)
		if !errors.Is(err, donation.ErrInvalid) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("NewRange(%q, %q): %v, want an invalid error saying %q", tt.from, tt.to, err, tt.want)
		}
	}
	if _, err := report.ParseFormat("xlsx"); !errors.Is(err, donation.ErrInvalid) {
		t.Errorf("ParseFormat(xlsx): %v", err)
	}
}
