package treasury_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/shortcode/shortcode/compliance"
	"github.com/shortcode/shortcode/donation"
	"github.com/shortcode/shortcode/donation/treasury"
)

// The pure decisions of the treasury: what each step writes, given what it
// read. The service tests run them against both stores.

func TestRequestRefund(t *testing.T) {
	now := received.Add(48 * time.Hour)
	d := donation.Donation{ID: "D1", Phone: "+12125550100", CommitteeID: "C99999999", Carrier: "SimMobile",
		Amount: 1000, Status: donation.Completed, ReceivedAt: received, ServerRef: "SRV-D1"}
	with := func(f func(*donation.Donation)) donation.Donation { x := d; f(&x); return x }
	posted := treasury.Refund{ID: "R0", DonationID: "D1", Status: treasury.Posted}
	refused := treasury.Refund{ID: "R0", DonationID: "D1", Status: treasury.Refused}
	for _, tt := range []struct {
		name       string
		d          donation.Donation
		earlier    []treasury.Refund
		reason     treasury.Reason
		discovered time.Time
		want       error // nil: a refund
		deadline   time.Time
	}{
		{"donor request", d, nil, treasury.DonorRequest, time.Time{}, nil, time.Time{}},
		{"excessive: 60 days from receipt", d, nil, treasury.Excessive, time.Time{}, nil, received.Add(60 * 24 * time.Hour)},
		{"prohibited: 30 days from discovery", d, nil, treasury.Prohibited, received.Add(time.Hour), nil, received.Add(time.Hour + 30*24*time.Hour)},
		{"prohibited, discovered now", d, nil, treasury.Prohibited, time.Time{}, nil, now.Add(30 * 24 * time.Hour)},
		{"after a refused refund", d, []treasury.Refund{refused}, treasury.Excessive, time.Time{}, nil, received.Add(60 * 24 * time.Hour)},
		{"a refund posted", d, []treasury.Refund{posted}, treasury.Excessive, time.Time{}, treasury.ErrRefundInProgress, time.Time{}},
		{"declined", with(func(d *donation.Donation) { d.Status = donation.Declined }), nil, treasury.Excessive, time.Time{}, treasury.ErrNotRefundable, time.Time{}},
		{"open", with(func(d *donation.Donation) { d.Status = donation.Open }), nil, treasury.Excessive, time.Time{}, treasury.ErrNotRefundable, time.Time{}},
		{"refunded", with(func(d *donation.Donation) { d.RefundedAt = now }), nil, treasury.Excessive, time.Time{}, treasury.ErrNotRefundable, time.Time{}},
		{"no carrier reference", with(func(d *donation.Donation) { d.ServerRef = "" }), nil, treasury.Excessive, time.Time{}, treasury.ErrNotRefundable, time.Time{}},
		{"bad reason", d, nil, "fraud", time.Time{}, donation.ErrInvalid, time.Time{}},
		{"discovered tomorrow", d, nil, treasury.Prohibited, now.Add(24 * time.Hour), donation.ErrInvalid, time.Time{}},
	} {
		c, err := treasury.RequestRefund(tt.d, tt.earlier, tt.reason, tt.discovered, "treasurer", "R1", now)
		if tt.want != nil {
			if !errors.Is(err, tt.want) || c.Refund != nil || c.Action != nil {
				t.Errorf("%s: %+v, %v; want %v and no change", tt.name, c, err, tt.want)
			}
			continue
		}
		if err != nil || c.Refund == nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		r := *c.Refund
		if r.Status != treasury.Posted || r.Correlator != "R1-1" || r.Amount != 1000 || r.Phone != d.Phone || !r.Deadline.Equal(tt.deadline) {
			t.Errorf("%s: refund %+v, want posted with deadline %v", tt.name, r, tt.deadline)
		}
		if (c.Block != nil) != (tt.reason == treasury.Prohibited) {
			t.Errorf("%s: block %+v; want one only for a prohibited source", tt.name, c.Block)
		}
		if c.Action == nil || c.Action.Action != "refund.request" || c.Action.Actor != "treasurer" || strings.Contains(c.Action.Detail, d.Phone) {
			t.Errorf("%s: action %+v, want refund.request by treasurer without the number", tt.name, c.Action)
		}
	}
}

func TestRefundOutcome(t *testing.T) {
	now, retry := received.Add(time.Hour), received.Add(2*time.Hour)
	posted := treasury.Refund{ID: "R1", DonationID: "D1", Status: treasury.Posted, Attempts: 1}
	for _, tt := range []struct {
		name     string
		r        treasury.Refund
		res      donation.RefundResult
		known    bool
		want     treasury.RefundStatus
		attempts int
		refunded bool
		change   bool
	}{
		{"refunded", posted, donation.RefundResult{Outcome: donation.Charged, ServerRef: "SRV9"}, true, treasury.Refunded, 1, true, true},
		{"refused", posted, donation.RefundResult{Outcome: donation.ChargeDeclined, Code: "SVC0001"}, true, treasury.Refused, 1, false, true},
		{"unknown", posted, donation.RefundResult{}, false, treasury.Posted, 2, false, true},
		{"an answer not known", posted, donation.RefundResult{Outcome: donation.Charged}, false, treasury.Posted, 2, false, true},
		{"recorded already", treasury.Refund{ID: "R1", Status: treasury.Refunded}, donation.RefundResult{Outcome: donation.ChargeDeclined}, true, treasury.Refunded, 0, false, false},
	} {
		r, c := treasury.RefundOutcome(tt.r, tt.res, tt.known, now, retry)
		if r.Status != tt.want || r.Attempts != tt.attempts || c.Refunded != tt.refunded || (c.Refund != nil) != tt.change {
			t.Errorf("%s: %+v, %+v", tt.name, r, c)
		}
		if tt.want == treasury.Posted && tt.change && !r.NextAttemptAt.Equal(retry) {
			t.Errorf("%s: next attempt %v, want %v", tt.name, r.NextAttemptAt, retry)
		}
		if c.Action != nil {
			t.Errorf("%s: a carrier's answer logged as a person's action", tt.name)
		}
	}
}

func TestReconcile(t *testing.T) {
	now := received.Add(90 * 24 * time.Hour)
	d1 := &donation.Donation{ID: "D1", Status: donation.Completed, Carrier: "SimMobile", ServerRef: "SRV1", Amount: 1000}
	d2 := &donation.Donation{ID: "D2", Status: donation.Completed, Carrier: "SimMobile", ServerRef: "SRV2", Amount: 1000}
	r1 := &treasury.Refund{ID: "R1", Status: treasury.Refunded, Carrier: "SimMobile", ServerRef: "SRV3", Amount: 1000}
	l := func(ref, server string, gross, fee int64, status string) treasury.Line {
		return treasury.Line{Reference: ref, ServerRef: server, Gross: gross, CarrierFee: fee, Net: gross - fee, Status: status}
	}
	f := treasury.SettlementFile{Carrier: "SimMobile", Name: "march.csv", SHA256: strings.Repeat("a", 64), Lines: []treasury.Line{
		l("D1", "SRV1", 1000, 300, treasury.Paid),       // matched, remitted
		l("D1", "SRV1", 1000, 300, treasury.Paid),       // the same server reference again
		l("D2", "SRV2", 1000, 300, treasury.WrittenOff), // matched, not remitted
		l("R1", "SRV3", -1000, -300, treasury.Paid),     // a refund: matched, negative
		l("DX", "SRVX", 1000, 300, treasury.Paid),       // unknown
		l("D2", "SRV2", 1000, 300, treasury.Paid),       // settled by an earlier file
	}}
	ours := []treasury.Ours{{Donation: d1}, {Donation: d1}, {Donation: d2}, {Refund: r1}, {}, {Donation: d2, Settled: true}}
	c := treasury.Reconcile(f, ours, "treasurer", now)
	rep := c.Import.Report
	if rep.Matched != 3 || rep.Problems != 3 || rep.Remitted != 700-700 || len(rep.Lines) != 6 {
		t.Errorf("report: %s", rep.Summary())
	}
	for i, want := range []string{"", "duplicate", "", "", "unmatched", "duplicate"} {
		if got := rep.Lines[i].Problem; (want == "") != (got == "") || !strings.Contains(got, want) {
			t.Errorf("line %d: problem %q, want %q", i+1, got, want)
		}
	}
	if len(c.Import.Remittances) != 1 || c.Import.Remittances[0] != (treasury.Remittance{DonationID: "D1", At: now, Net: 700, CarrierFee: 300}) {
		t.Errorf("remittances = %+v, want D1's only", c.Import.Remittances)
	}
	if c.Action == nil || c.Action.Action != "settlement.import" || c.Action.Detail != rep.Summary() {
		t.Errorf("action = %+v", c.Action)
	}
}

func TestPlanForward(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Skip(err)
	}
	c := compliance.Committee{ID: "C99999999", TimeZone: "America/New_York"}
	// 23:30 in New York on March 10 is March 11 in UTC.
	late := time.Date(2027, 3, 10, 23, 30, 0, 0, ny)
	ds := []donation.Donation{
		{ID: "D1", CommitteeID: c.ID, Amount: 1000, ReceivedAt: late.Add(-2 * time.Hour)},
		{ID: "D2", CommitteeID: c.ID, Amount: 2500, ReceivedAt: late},
		{ID: "D3", CommitteeID: c.ID, Amount: 500, ReceivedAt: late.Add(time.Hour)}, // March 11 in New York
		{ID: "D4", CommitteeID: "C00000001", Amount: 700, ReceivedAt: late},
	}
	march10 := time.Date(2027, 3, 10, 0, 0, 0, 0, time.UTC)
	now := late.Add(48 * time.Hour).UTC()
	amount := func(cents int64) *int64 { return &cents }
	for _, tt := range []struct {
		name      string
		through   time.Time
		amount    *int64
		reference string
		want      error
		ids       string
		total     int64
	}{
		{"through March 10, New York time", march10, nil, "W1", nil, "D1 D2", 3500},
		{"the amount checked", march10, amount(3500), "W1", nil, "D1 D2", 3500},
		{"today", time.Time{}, nil, "W1", nil, "D1 D2 D3", 4000},
		{"wrong amount", march10, amount(3400), "W1", donation.ErrConflict, "", 0},
		{"nothing to forward", march10.Add(-24 * time.Hour), nil, "W1", donation.ErrConflict, "", 0},
		{"no reference", march10, nil, "", donation.ErrInvalid, "", 0},
		{"negative amount", march10, amount(-1), "W1", donation.ErrInvalid, "", 0},
	} {
		ch, err := treasury.PlanForward(c, ds, tt.through, tt.amount, tt.reference, "treasurer", "F1", now)
		if tt.want != nil {
			if !errors.Is(err, tt.want) || ch.Forward != nil {
				t.Errorf("%s: %+v, %v; want %v", tt.name, ch.Forward, err, tt.want)
			}
			continue
		}
		if err != nil || strings.Join(ch.Forwarded, " ") != tt.ids || ch.Forward.Amount != tt.total || ch.Forward.Count != len(ch.Forwarded) {
			t.Errorf("%s: %+v %v, %v; want %s totalling %d", tt.name, ch.Forward, ch.Forwarded, err, tt.ids, tt.total)
			continue
		}
		if ch.Action == nil || ch.Action.Action != "forward.record" {
			t.Errorf("%s: action %+v", tt.name, ch.Action)
		}
	}
}
