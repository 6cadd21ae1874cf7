package sim_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/shortcode/shortcode/carrier/oneapi"
	"github.com/shortcode/shortcode/carrier/sim"
	"github.com/shortcode/shortcode/donation"
)

// The carrier/oneapi client against the simulator: both follow the same
// wire contract.
func TestOneAPIClient(t *testing.T) {
	s, c := startCarrier(t, sim.Config{CarrierUser: "shortcode", CarrierPassword: "s3cret"})
	client := &oneapi.Client{BaseURL: c.srv.URL, Username: "shortcode", Password: "s3cret",
		HTTP: &http.Client{Timeout: 5 * time.Second}}
	ctx := context.Background()
	req := func(phone, id string) donation.ChargeRequest {
		return donation.ChargeRequest{DonationID: id, Correlator: id + "-1", Phone: phone, Amount: 1000,
			CommitteeID: "C99999999", CommitteeName: "Demo Committee", Channel: "SMS"}
	}

	t.Run("Lookup", func(t *testing.T) {
		for phone, want := range map[string]donation.Line{
			"+12125550100": {Country: "US", Carrier: "SimMobile", Type: donation.Postpaid},
			"+12015550101": {Country: "US", Carrier: "SimWireless", Type: donation.Prepaid},
			"+12025550102": {Country: "US", Carrier: "SimMobile", Type: donation.Business},
			"+14165550103": {Country: "CA", Carrier: "SimWireless", Type: donation.Postpaid},
		} {
			if got, err := client.Lookup(ctx, phone); err != nil || got != want {
				t.Errorf("Lookup(%s) = %+v, %v; want %+v", phone, got, err, want)
			}
		}
		if _, err := client.Lookup(ctx, "+12065550100"); err == nil {
			t.Error("Lookup of a +1206555 01xx number succeeded")
		}
	})

	t.Run("Declines", func(t *testing.T) {
		for phone, want := range map[string][2]string{
			"+12015550100": {"POL1000", "prepaid"},
			"+12025550100": {"POL0001", "business-liable"},
			"+12035550100": {"POL1001", "monthly"},
			"+12055550100": {"POL0001", "premium"},
			"+15555550100": {"SVC0004", "Unknown subscriber"},
		} {
			res, err := client.Charge(ctx, req(phone, "D"+phone))
			if err != nil || res.Outcome != donation.ChargeDeclined || res.Code != want[0] || !strings.Contains(res.Reason, want[1]) {
				t.Errorf("Charge(%s) = %+v, %v; want declined %s with %q", phone, res, err, want[0], want[1])
			}
			if res, err := client.Status(ctx, req(phone, "D"+phone)); err != nil || res.Outcome != donation.NotCharged {
				t.Errorf("Status(%s) = %+v, %v; want not charged", phone, res, err)
			}
		}
	})

	t.Run("ChargeStatusRefund", func(t *testing.T) {
		r := req("+12125550100", "D1")
		res, err := client.Charge(ctx, r)
		if err != nil || res.Outcome != donation.Charged || res.ServerRef == "" {
			t.Fatalf("Charge = %+v, %v", res, err)
		}
		if again, err := client.Charge(ctx, r); err != nil || again != res {
			t.Errorf("retry = %+v, %v; want %+v", again, err, res)
		}
		if st, err := client.Status(ctx, r); err != nil || st != res {
			t.Errorf("Status = %+v, %v; want %+v", st, err, res)
		}
		r2 := r
		r2.Correlator = "D1-2"
		if _, err := client.Charge(ctx, r2); !errors.Is(err, oneapi.ErrReferenceReused) {
			t.Errorf("new correlator: %v, want ErrReferenceReused", err)
		}
		refund := donation.RefundRequest{DonationID: "D1", Reference: "R1", Correlator: "R1-1", Phone: r.Phone,
			Amount: 1000, OriginalServerRef: res.ServerRef, CommitteeID: "C99999999", CommitteeName: "Demo Committee"}
		rr, err := client.Refund(ctx, refund)
		if err != nil || rr.Outcome != donation.Charged || rr.ServerRef == "" || rr.ServerRef == res.ServerRef {
			t.Errorf("Refund = %+v, %v", rr, err)
		}
		refund.Reference, refund.Correlator = "R2", "R2-1"
		if rr, err := client.Refund(ctx, refund); err != nil || rr.Outcome != donation.ChargeDeclined || rr.Code != "SVC0001" {
			t.Errorf("second refund = %+v, %v; want declined SVC0001", rr, err)
		}
		refund.Reference, refund.Correlator, refund.OriginalServerRef = "R3", "R3-1", ""
		if rr, err := client.Refund(ctx, refund); err != nil || rr.Outcome != donation.ChargeDeclined || rr.Code != "POL1005" {
			t.Errorf("refund without original = %+v, %v; want declined POL1005", rr, err)
		}
	})

	t.Run("Timeout", func(t *testing.T) {
		r := req("+12075550100", "D7")
		if res, err := client.Charge(ctx, r); err == nil || res.Outcome != donation.Unknown {
			t.Fatalf("Charge = %+v, %v; want unknown", res, err)
		}
		st, err := client.Status(ctx, r)
		if err != nil || st.Outcome != donation.Charged {
			t.Fatalf("Status = %+v, %v; want charged", st, err)
		}
		if res, err := client.Charge(ctx, r); err != nil || res != st {
			t.Errorf("retry = %+v, %v; want %+v", res, err, st)
		}
	})

	t.Run("Flaky", func(t *testing.T) {
		r := req("+12085550100", "D8")
		for range 2 {
			if res, err := client.Charge(ctx, r); err == nil || res.Outcome != donation.Unknown {
				t.Fatalf("Charge = %+v, %v; want unknown", res, err)
			}
			if st, err := client.Status(ctx, r); err != nil || st.Outcome != donation.NotCharged {
				t.Fatalf("Status = %+v, %v; want not charged", st, err)
			}
		}
		if res, err := client.Charge(ctx, r); err != nil || res.Outcome != donation.Charged {
			t.Errorf("third = %+v, %v; want charged", res, err)
		}
	})

	t.Run("Unauthorized", func(t *testing.T) {
		bad := *client
		bad.Password = "nope"
		if _, err := bad.Charge(ctx, req("+12125550100", "D9")); !errors.Is(err, oneapi.ErrUnauthorized) {
			t.Errorf("Charge: %v, want ErrUnauthorized", err)
		}
	})

	n := map[string]int{}
	for _, ch := range s.Ledger() {
		n[ch.Kind]++
	}
	if n["charge"] != 3 || n["refund"] != 1 {
		t.Errorf("ledger: %v, want 3 charges and 1 refund", n)
	}
}
