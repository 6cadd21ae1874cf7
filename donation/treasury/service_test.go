package treasury_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shortcode/shortcode/compliance"
	"github.com/shortcode/shortcode/donation"
	"github.com/shortcode/shortcode/donation/treasury"
	"github.com/shortcode/shortcode/storage"
	"github.com/shortcode/shortcode/storage/storagetest"
)

type clock struct{ now time.Time }

func (c *clock) Now() time.Time { return c.now }

// carrier refunds as told, keeping the refunds it applied by correlator.
type carrier struct {
	mu      sync.Mutex
	answer  donation.Outcome // Charged (refunded), ChargeDeclined, or Unknown
	applied map[string]donation.RefundRequest
	called  func(donation.RefundRequest) // if set, on each refund before answering
}

func (c *carrier) Charge(context.Context, donation.ChargeRequest) (donation.ChargeResult, error) {
	return donation.ChargeResult{}, errors.New("not here")
}

func (c *carrier) Status(context.Context, donation.ChargeRequest) (donation.ChargeResult, error) {
	return donation.ChargeResult{}, errors.New("not here")
}

func (c *carrier) Refund(_ context.Context, req donation.RefundRequest) (donation.RefundResult, error) {
	if c.called != nil {
		c.called(req)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	switch c.answer {
	case donation.Unknown:
		return donation.RefundResult{Outcome: donation.Unknown}, errors.New("timeout")
	case donation.ChargeDeclined:
		return donation.RefundResult{Outcome: donation.ChargeDeclined, Code: "SVC0001", Reason: "declined: original not found"}, nil
	}
	if c.applied == nil {
		c.applied = map[string]donation.RefundRequest{}
	}
	c.applied[req.Correlator] = req
	return donation.RefundResult{Outcome: donation.Charged, ServerRef: "SRV-" + req.Reference}, nil
}

func (c *carrier) Biller(name string) (donation.Biller, error) {
	if name != "SimMobile" {
		return nil, fmt.Errorf("carrier %q: %w", name, donation.ErrUnknownCarrier)
	}
	return c, nil
}

func (c *carrier) Fees(name string) (donation.Fees, error) {
	if _, err := c.Biller(name); err != nil {
		return donation.Fees{}, err
	}
	return donation.Fees{CarrierBPS: 3000}, nil
}

var received = time.Date(2027, 3, 10, 15, 0, 0, 0, time.UTC)

// seed stores a program and donations of the given statuses for phone.
func seed(t *testing.T, db *storage.DB, phone string, statuses ...donation.Status) []donation.Donation {
	t.Helper()
	ctx := context.Background()
	if err := db.SaveProgram(ctx, compliance.DemoProgram("https://sc.example")); err != nil {
		t.Fatal(err)
	}
	var ds []donation.Donation
	for i, st := range statuses {
		d := donation.Donation{
			ID: fmt.Sprintf("D%s%02d", phone[len(phone)-4:], i), ProgramID: "demo", CommitteeID: "C99999999", Phone: phone, ShortCode: "62262",
			Amount: 1000, Status: st, Carrier: "SimMobile", CreatedAt: received, ReservedAt: received, ReceivedAt: received,
			ChargePostedAt: received, Correlator: "c", PINHash: "h",
		}
		if st == donation.Completed {
			d.ServerRef = "SRV-" + d.ID
		}
		ds = append(ds, d)
	}
	err := db.Update(ctx, phone, func(tx donation.Tx) error {
		return tx.Apply(ctx, donation.Result{Donations: ds}, received, "")
	})
	if err != nil {
		t.Fatal(err)
	}
	return ds
}

func TestRefund(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		c := &carrier{answer: donation.Charged}
		clk := &clock{now: received.Add(48 * time.Hour)}
		svc := &treasury.Service{Store: db.Treasury(), Carriers: c, Clock: clk, Backoff: time.Nanosecond}
		phone := "+12125550100"
		ds := seed(t, db, phone, donation.Completed, donation.Completed, donation.Declined, donation.Completed)

		usage := func() int64 {
			var total int64
			db.Update(ctx, phone, func(tx donation.Tx) error {
				es, err := tx.Usage(ctx, phone, "C99999999")
				for _, e := range es {
					total += e.Amount
				}
				return err
			})
			return total
		}
		blocked := func() bool {
			var b bool
			db.Update(ctx, phone, func(tx donation.Tx) error {
				var err error
				b, err = tx.Blocked(ctx, phone, "C99999999")
				return err
			})
			return b
		}
		if got := usage(); got != 3000 {
			t.Fatalf("usage before refunds = %d", got)
		}

		// A donor's request: refunded, released from the caps, not blocklisted.
		r, err := svc.Refund(ctx, ds[0].ID, treasury.DonorRequest, time.Time{}, "treasurer")
		if err != nil || r.Status != treasury.Refunded || r.ServerRef == "" {
			t.Fatalf("refund = %+v, %v", r, err)
		}
		if got := usage(); got != 2000 {
			t.Errorf("usage after a refund = %d, want 2000", got)
		}
		if blocked() {
			t.Error("a donor-request refund blocklisted the number")
		}

		// Bad input: nothing changes.
		for _, c := range []struct {
			name string
			id   string
			want error
		}{
			{"refunded already", ds[0].ID, treasury.ErrNotRefundable},
			{"declined", ds[2].ID, treasury.ErrNotRefundable},
			{"unknown donation", "DNOPE", donation.ErrNotFound},
		} {
			if _, err := svc.Refund(ctx, c.id, treasury.Excessive, time.Time{}, "treasurer"); !errors.Is(err, c.want) {
				t.Errorf("%s: err %v, want %v", c.name, err, c.want)
			}
		}
		if _, err := svc.Refund(ctx, ds[1].ID, "fraud", time.Time{}, "treasurer"); err == nil {
			t.Error("bad reason: want an error")
		}

		// The carrier refuses: the donation stays a contribution, and a new
		// refund may be asked for.
		c.answer = donation.ChargeDeclined
		r, err = svc.Refund(ctx, ds[1].ID, treasury.Excessive, time.Time{}, "treasurer")
		if err != nil || r.Status != treasury.Refused {
			t.Fatalf("refused refund = %+v, %v", r, err)
		}
		if got := usage(); got != 2000 {
			t.Errorf("usage after a refused refund = %d", got)
		}

		// Unknown outcome: the refund stays posted, a second request is
		// refused, and the worker finishes it with the same correlator.
		c.answer = donation.Unknown
		found := received.Add(24 * time.Hour)
		r, err = svc.Refund(ctx, ds[1].ID, treasury.Prohibited, found, "treasurer")
		if err != nil || r.Status != treasury.Posted || !r.Deadline.Equal(found.Add(30*24*time.Hour)) {
			t.Fatalf("posted refund = %+v, %v", r, err)
		}
		if _, err := svc.Refund(ctx, ds[1].ID, treasury.Prohibited, found, "treasurer"); !errors.Is(err, treasury.ErrRefundInProgress) {
			t.Errorf("second refund while one is posted: %v", err)
		}
		c.answer = donation.Charged
		clk.now = clk.now.Add(time.Minute)
		if n, err := svc.RefundPending(ctx); err != nil || n != 1 {
			t.Fatalf("RefundPending = %d, %v", n, err)
		}
		if !blocked() {
			t.Error("a prohibited-source refund did not blocklist the number")
		}
		rs, err := db.Refunds(ctx, "C99999999")
		if err != nil || len(rs) != 3 {
			t.Fatalf("refunds = %+v, %v", rs, err)
		}
		var finished []treasury.Refund
		for _, r := range rs {
			if r.Reason == treasury.Prohibited {
				finished = append(finished, r)
			}
		}
		if len(finished) != 1 || finished[0].Status != treasury.Refunded || finished[0].Attempts != 1 || finished[0].Late(clk.now) {
			t.Errorf("worker-finished refund = %+v", finished)
		}
		if len(c.applied) != 2 {
			t.Errorf("carrier applied %d refunds, want 2", len(c.applied))
		}
	})
}

// TestProhibitedRefundBlocksAtOnce: SPEC §6.4. A prohibited source is
// blocklisted as its refund is recorded, before the carrier is called, so a
// refused refund, one whose outcome is unknown, or a crash before the call
// leaves the number blocked all the same.
func TestProhibitedRefundBlocksAtOnce(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		c := &carrier{}
		svc := &treasury.Service{Store: db.Treasury(), Carriers: c, Clock: &clock{now: received.Add(48 * time.Hour)}}
		blocked := func(phone string) bool {
			t.Helper()
			var b bool
			err := db.Update(ctx, phone, func(tx donation.Tx) error {
				var err error
				b, err = tx.Blocked(ctx, phone, "C99999999")
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			return b
		}
		for _, tc := range []struct {
			phone  string
			answer donation.Outcome
			want   treasury.RefundStatus
		}{
			{"+12125550111", donation.ChargeDeclined, treasury.Refused},
			{"+12125550112", donation.Unknown, treasury.Posted},
		} {
			d := seed(t, db, tc.phone, donation.Completed)[0]
			c.answer = tc.answer
			blockedAtCall := false
			c.called = func(req donation.RefundRequest) { blockedAtCall = blocked(req.Phone) }
			r, err := svc.Refund(ctx, d.ID, treasury.Prohibited, time.Time{}, "treasurer")
			if err != nil || r.Status != tc.want {
				t.Fatalf("%s: refund = %+v, %v; want %s", tc.answer, r, err, tc.want)
			}
			if !blockedAtCall {
				t.Errorf("%s: the number was not blocked when the carrier was called", tc.answer)
			}
			if !blocked(tc.phone) {
				t.Errorf("%s: a prohibited refund left the number unblocked", tc.answer)
			}
		}

		// Other reasons block nothing, whatever the carrier says.
		c.answer, c.called = donation.ChargeDeclined, nil
		const other = "+12125550113"
		d := seed(t, db, other, donation.Completed)[0]
		if _, err := svc.Refund(ctx, d.ID, treasury.Excessive, time.Time{}, "treasurer"); err != nil {
			t.Fatal(err)
		}
		if blocked(other) {
			t.Error("an excessive refund blocked the number")
		}
	})
}

func TestImportSettlement(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		c := &carrier{answer: donation.Charged}
		svc := &treasury.Service{Store: db.Treasury(), Carriers: c, Clock: &clock{now: received.Add(90 * 24 * time.Hour)}}
		ds := seed(t, db, "+12125550100", donation.Completed, donation.Completed, donation.Completed)
		line := func(d donation.Donation, gross string) string {
			return fmt.Sprintf("%s,%s,2027-03-10T15:00:00Z,%s,3.00,%s,paid\n", d.ServerRef, d.ID, gross,
				map[string]string{"10.00": "7.00", "20.00": "17.00"}[gross])
		}
		file := header + line(ds[0], "10.00") + line(ds[1], "20.00") + // wrong amount
			"SRV-X,DUNKNOWN,2027-03-10T15:00:00Z,10.00,3.00,7.00,paid\n" + // unknown reference
			line(ds[0], "10.00") + // duplicate
			line(ds[2], "10.00")
		f, err := treasury.ParseSettlement("SimMobile", "march.csv", strings.NewReader(file))
		if err != nil {
			t.Fatal(err)
		}
		rep, err := svc.ImportSettlement(ctx, f, "treasurer")
		if err != nil {
			t.Fatal(err)
		}
		problems := map[int]string{}
		for _, l := range rep.Lines {
			if l.Problem != "" {
				problems[l.No] = l.Problem
			}
		}
		if rep.Matched != 2 || rep.Problems != 3 || rep.Remitted != 1400 || len(rep.Lines) != 5 {
			t.Errorf("report %s, problems %v", rep.Summary(), problems)
		}
		for no, want := range map[int]string{2: "gross $20.00", 3: "unmatched", 4: "duplicate"} {
			if !strings.Contains(problems[no], want) {
				t.Errorf("line %d: problem %q, want %q", no, problems[no], want)
			}
		}
		d, _ := db.Donation(ctx, ds[0].ID)
		if d.CarrierFee != 300 {
			t.Errorf("carrier fee after settlement = %d", d.CarrierFee)
		}
		// A re-import changes nothing.
		again, err := svc.ImportSettlement(ctx, f, "treasurer")
		if err != nil || !again.AlreadyImported {
			t.Errorf("re-import = %+v, %v", again, err)
		}
		// An unknown carrier is refused before anything is read.
		f.Carrier = "NoSuchTel"
		if _, err := svc.ImportSettlement(ctx, f, "treasurer"); !errors.Is(err, donation.ErrUnknownCarrier) {
			t.Errorf("unknown carrier: %v", err)
		}
	})
}

func TestForward(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		clk := &clock{now: received.Add(9 * 24 * time.Hour)}
		svc := &treasury.Service{Store: db.Treasury(), Carriers: &carrier{}, Clock: clk}
		seed(t, db, "+12125550100", donation.Completed, donation.Completed, donation.Cancelled)

		due, err := svc.Due(ctx, "C99999999", 48*time.Hour)
		if err != nil || len(due) != 2 || due[0].Missed {
			t.Fatalf("due on day 9 = %+v, %v", due, err)
		}
		clk.now = received.Add(11 * 24 * time.Hour)
		if due, _ := svc.Due(ctx, "", 0); len(due) != 2 || !due[0].Missed {
			t.Errorf("due on day 11 = %+v", due)
		}

		wrong := int64(5000)
		if _, err := svc.RecordForward(ctx, "C99999999", received, &wrong, "WIRE1", "treasurer"); err == nil || !strings.Contains(err.Error(), "does not match") {
			t.Errorf("wrong amount: %v", err)
		}
		if _, err := svc.RecordForward(ctx, "C99999999", received, nil, "", "treasurer"); err == nil {
			t.Error("no reference: want an error")
		}
		right := int64(2000)
		f, err := svc.RecordForward(ctx, "C99999999", received, &right, "WIRE1", "treasurer")
		if err != nil || f.Count != 2 || f.Amount != 2000 {
			t.Fatalf("forward = %+v, %v", f, err)
		}
		if due, _ := svc.Due(ctx, "", 0); len(due) != 0 {
			t.Errorf("due after forwarding = %+v", due)
		}
		if _, err := svc.RecordForward(ctx, "C99999999", received, nil, "WIRE2", "treasurer"); err == nil {
			t.Error("forwarding nothing: want an error")
		}
		if _, err := svc.RecordForward(ctx, "C00000000", received, nil, "WIRE3", "treasurer"); !errors.Is(err, donation.ErrNotFound) {
			t.Errorf("unknown committee: %v", err)
		}
	})
}
