package sim_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/shortcode/shortcode/carrier/sim"
	"github.com/shortcode/shortcode/donation"
)

func chargeReq(id, correlator string, amount int64) donation.ChargeRequest {
	return donation.ChargeRequest{
		DonationID: id, Correlator: correlator, Phone: phone, Amount: amount,
		CommitteeID: "C00000001", CommitteeName: "Demo PAC", Channel: "SMS",
	}
}

func TestCarrierCharge(t *testing.T) {
	clk := newClock()
	c := &sim.Carrier{Now: clk.Now}
	ctx := context.Background()

	first, err := c.Charge(ctx, chargeReq("d1", "c1", 1000))
	if err != nil || first.Outcome != donation.Charged || first.ServerRef == "" {
		t.Fatalf("Charge = %+v, %v", first, err)
	}

	// The same correlator: the first result, no second charge.
	again, err := c.Charge(ctx, chargeReq("d1", "c1", 1000))
	if err != nil || again != first {
		t.Errorf("retry = %+v, %v; want %+v", again, err, first)
	}

	// The same donation under a new correlator: SVC0002, no charge.
	if _, err := c.Charge(ctx, chargeReq("d1", "c2", 1000)); !errors.Is(err, sim.ErrReferenceReused) {
		t.Errorf("reused reference: %v, want ErrReferenceReused", err)
	}
	// The same correlator for something else: refused.
	if _, err := c.Charge(ctx, chargeReq("d1", "c1", 2000)); !errors.Is(err, sim.ErrCorrelatorReused) {
		t.Errorf("reused correlator, other amount: %v, want ErrCorrelatorReused", err)
	}
	if _, err := c.Charge(ctx, chargeReq("d2", "c1", 1000)); !errors.Is(err, sim.ErrCorrelatorReused) {
		t.Errorf("reused correlator, other donation: %v, want ErrCorrelatorReused", err)
	}

	second, err := c.Charge(ctx, chargeReq("d2", "c2", 500))
	if err != nil || second.Outcome != donation.Charged || second.ServerRef == first.ServerRef {
		t.Fatalf("second charge = %+v, %v", second, err)
	}

	ledger := c.Ledger()
	if len(ledger) != 2 {
		t.Fatalf("ledger = %+v, want 2 charges", ledger)
	}
	want := sim.Charge{ServerRef: first.ServerRef, DonationID: "d1", Correlator: "c1", Phone: phone, Amount: 1000,
		At: ledger[0].At}
	if ledger[0] != want || ledger[0].At.IsZero() {
		t.Errorf("ledger[0] = %+v, want %+v", ledger[0], want)
	}
	if ledger[1].DonationID != "d2" || ledger[1].Amount != 500 || !ledger[1].At.After(ledger[0].At) {
		t.Errorf("ledger[1] = %+v", ledger[1])
	}

	// Ledger returns a copy.
	ledger[0].Amount = 1
	if c.Ledger()[0].Amount != 1000 {
		t.Error("Ledger shares its storage")
	}
}

func TestCarrierRefuses(t *testing.T) {
	var c sim.Carrier // the zero value works
	ctx := context.Background()
	for _, req := range []donation.ChargeRequest{
		chargeReq("", "c1", 1000),
		chargeReq("d1", "", 1000),
		chargeReq("d1", "c1", 0),
		chargeReq("d1", "c1", -100),
		{DonationID: "d1", Correlator: "c1", Amount: 1000},
	} {
		res, err := c.Charge(ctx, req)
		if !errors.Is(err, sim.ErrInvalidCharge) || res.Outcome == donation.Charged {
			t.Errorf("Charge(%+v) = %+v, %v; want ErrInvalidCharge", req, res, err)
		}
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := c.Charge(cancelled, chargeReq("d1", "c1", 1000)); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
	if n := len(c.Ledger()); n != 0 {
		t.Errorf("ledger has %d charges, want none", n)
	}
	if _, err := c.Charge(ctx, chargeReq("d1", "c1", 1000)); err != nil {
		t.Errorf("zero-value Carrier: %v", err)
	}
}

// Concurrent retries of one charge charge once.
func TestCarrierConcurrent(t *testing.T) {
	var c sim.Carrier
	ctx := context.Background()
	var wg sync.WaitGroup
	refs := make([]string, 50)
	for i := range refs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := c.Charge(ctx, chargeReq("d1", "c1", 1000))
			if err != nil {
				t.Error(err)
			}
			refs[i] = res.ServerRef
			// Other donations in parallel.
			if _, err := c.Charge(ctx, chargeReq(fmt.Sprint("other", i), fmt.Sprint("oc", i), 100)); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	for _, r := range refs {
		if r != refs[0] {
			t.Fatalf("server refs differ: %v", refs)
		}
	}
	n := 0
	for _, ch := range c.Ledger() {
		if ch.DonationID == "d1" {
			n++
		}
	}
	if n != 1 || len(c.Ledger()) != 51 {
		t.Errorf("d1 charged %d times, ledger %d entries; want 1 and 51", n, len(c.Ledger()))
	}
}

func TestLedgerHTTP(t *testing.T) {
	clk := newClock()
	s, srv := startSim(t, sim.Config{Now: clk.Now})
	res, err := s.Carrier().Charge(context.Background(), chargeReq("d1", "c1", 1000))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := srv.Client().Get(srv.URL + "/sim/ledger")
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" {
		t.Errorf("status %d, Content-Type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	var got struct{ Charges []sim.Charge }
	if err := json.Unmarshal([]byte(readAll(t, resp)), &got); err != nil {
		t.Fatal(err)
	}
	want := s.Carrier().Ledger()
	if len(got.Charges) != 1 || got.Charges[0] != want[0] || got.Charges[0].ServerRef != res.ServerRef {
		t.Errorf("ledger over HTTP = %+v, want %+v", got.Charges, want)
	}
}
