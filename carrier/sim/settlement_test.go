package sim_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/shortcode/shortcode/carrier/sim"
	"github.com/shortcode/shortcode/donation/donationtest"
)

func TestSettlement(t *testing.T) {
	clk := &donationtest.Clock{}
	s, c := startCarrier(t, sim.Config{Now: clk.Now})
	at := func(s string) {
		ts, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		clk.Set(ts)
	}
	// SimMobile (even last digit, 30%) and SimWireless (odd, 35%).
	at("2026-03-13T23:59:59Z")
	d1 := transaction(t, c.charge("+12125550100", "D1", "D1-1", "10.05")) // fee 301.5 -> 302
	at("2026-03-14T00:00:00Z")
	d2 := transaction(t, c.charge("+12125550101", "D2", "D2-1", "10.10")) // fee 353.5 -> 354
	at("2026-03-14T12:00:00Z")
	d3 := transaction(t, c.charge("+12125550102", "D3", "D3-1", "25.00"))
	exception(t, c.charge("+12035550100", "D4", "D4-1", "10.00"), 403) // declined: not settled
	at("2026-03-15T09:30:00Z")
	r1 := transaction(t, c.refund("+12125550100", "R1", "R1-1", "10.05", d1.ServerReferenceCode))

	const header = "server_reference_code,reference_code,charged_at,gross,carrier_fee,net,status\r\n"
	line1 := fmt.Sprintf("%s,D1,2026-03-13T23:59:59Z,10.05,3.02,7.03,paid\r\n", d1.ServerReferenceCode)
	line2 := fmt.Sprintf("%s,D2,2026-03-14T00:00:00Z,10.10,3.54,6.56,paid\r\n", d2.ServerReferenceCode)
	line3 := fmt.Sprintf("%s,D3,2026-03-14T12:00:00Z,25.00,7.50,17.50,paid\r\n", d3.ServerReferenceCode)
	refund := fmt.Sprintf("%s,R1,2026-03-15T09:30:00Z,-10.05,-3.02,-7.03,paid\r\n", r1.ServerReferenceCode)
	day := func(d int) time.Time { return time.Date(2026, 3, d, 0, 0, 0, 0, time.UTC) }
	est := time.FixedZone("EST", -5*3600)

	tests := []struct {
		name     string
		carrier  string
		from, to time.Time
		query    string
		want     string
	}{
		{"SimMobileAll", "SimMobile", time.Time{}, time.Time{}, "", header + line1 + line3 + refund},
		{"SimWirelessAll", "SimWireless", time.Time{}, time.Time{}, "", header + line2},
		{"OneDay", "SimMobile", day(14), day(14), "?from=2026-03-14&to=2026-03-14", header + line3},
		{"From", "SimMobile", day(14), time.Time{}, "?from=2026-03-14", header + line3 + refund},
		{"To", "SimMobile", time.Time{}, day(13), "?to=2026-03-13", header + line1},
		{"Span", "SimMobile", day(13), day(15), "?from=2026-03-13&to=2026-03-15", header + line1 + line3 + refund},
		{"Reversed", "SimMobile", day(15), day(13), "?from=2026-03-15&to=2026-03-13", header},
		{"Later", "SimWireless", day(15), time.Time{}, "?from=2026-03-15", header},
		// Only the date of from and to counts, whatever their zone.
		{"OtherZone", "SimMobile", time.Date(2026, 3, 14, 23, 0, 0, 0, est), time.Date(2026, 3, 14, 1, 0, 0, 0, est), "", header + line3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := string(s.Settlement(tt.carrier, tt.from, tt.to)); got != tt.want {
				t.Errorf("Settlement =\n%q\nwant\n%q", got, tt.want)
			}
			if tt.name == "OtherZone" {
				return
			}
			r := c.do("GET", "/sim/settlements/"+tt.carrier+".csv"+tt.query, "")
			if r.err != nil || r.status != 200 || r.body != tt.want {
				t.Errorf("GET = %d %v\n%q\nwant\n%q", r.status, r.err, r.body, tt.want)
			}
			if ct := r.header.Get("Content-Type"); ct != "text/csv; charset=utf-8; header=present" {
				t.Errorf("Content-Type %q", ct)
			}
		})
	}

	for _, tt := range []struct {
		path   string
		status int
	}{
		{"/sim/settlements/SimNope.csv", 404},
		{"/sim/settlements/simmobile.csv", 404},
		{"/sim/settlements/SimMobile.csv?from=2026-3-14", 400},
		{"/sim/settlements/SimMobile.csv?to=tomorrow", 400},
		{"/sim/settlements/SimMobile.csv?from=2026-02-30", 400},
	} {
		if r := c.do("GET", tt.path, ""); r.status != tt.status {
			t.Errorf("GET %s: %d %s, want %d", tt.path, r.status, r.body, tt.status)
		}
	}
}

func TestSettlementFees(t *testing.T) {
	clk := donationtest.NewClock(time.Date(2026, 3, 14, 10, 0, 0, 0, time.UTC))
	s, c := startCarrier(t, sim.Config{Now: clk.Now, CarrierFees: map[string]int{"SimMobile": 2500, "SimWireless": 20000}})
	a := transaction(t, c.charge("+12125550100", "A", "A-1", "10.05")) // 25%: 251.25 -> 251
	b := transaction(t, c.charge("+12125550102", "B", "B-1", "0.02"))  // 25%: 0.5 -> 1
	w := transaction(t, c.charge("+12125550101", "W", "W-1", "3.00"))  // clamped to 100%
	want := "server_reference_code,reference_code,charged_at,gross,carrier_fee,net,status\r\n" +
		a.ServerReferenceCode + ",A,2026-03-14T10:00:00Z,10.05,2.51,7.54,paid\r\n" +
		b.ServerReferenceCode + ",B,2026-03-14T10:00:00Z,0.02,0.01,0.01,paid\r\n"
	if got := string(s.Settlement("SimMobile", time.Time{}, time.Time{})); got != want {
		t.Errorf("SimMobile =\n%q\nwant\n%q", got, want)
	}
	want = "server_reference_code,reference_code,charged_at,gross,carrier_fee,net,status\r\n" +
		w.ServerReferenceCode + ",W,2026-03-14T10:00:00Z,3.00,3.00,0.00,paid\r\n"
	if got := string(s.Settlement("SimWireless", time.Time{}, time.Time{})); got != want {
		t.Errorf("SimWireless =\n%q\nwant\n%q", got, want)
	}
}

// TestSettlementWriteOff: a charge written off keeps its gross, fee and net
// and says "written_off"; its refund, an unknown reference and a refund's
// own reference cannot be written off.
func TestSettlementWriteOff(t *testing.T) {
	clk := donationtest.NewClock(time.Date(2026, 3, 14, 10, 0, 0, 0, time.UTC))
	s, c := startCarrier(t, sim.Config{Now: clk.Now})
	a := transaction(t, c.charge("+12125550100", "A", "A-1", "10.00"))
	b := transaction(t, c.charge("+12125550102", "B", "B-1", "5.00"))
	r := transaction(t, c.refund("+12125550102", "R", "R-1", "5.00", b.ServerReferenceCode))
	if !s.WriteOff(a.ServerReferenceCode) {
		t.Error("WriteOff of a charge: false")
	}
	if s.WriteOff(r.ServerReferenceCode) || s.WriteOff("nosuchref") {
		t.Error("WriteOff of a refund or an unknown reference: true")
	}
	want := "server_reference_code,reference_code,charged_at,gross,carrier_fee,net,status\r\n" +
		a.ServerReferenceCode + ",A,2026-03-14T10:00:00Z,10.00,3.00,7.00,written_off\r\n" +
		b.ServerReferenceCode + ",B,2026-03-14T10:00:00Z,5.00,1.50,3.50,paid\r\n" +
		r.ServerReferenceCode + ",R,2026-03-14T10:00:00Z,-5.00,-1.50,-3.50,paid\r\n"
	if got := string(s.Settlement("SimMobile", time.Time{}, time.Time{})); got != want {
		t.Errorf("SimMobile =\n%q\nwant\n%q", got, want)
	}
}
