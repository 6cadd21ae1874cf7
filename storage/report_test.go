package storage_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/shortcode/shortcode/compliance"
	"github.com/shortcode/shortcode/donation"
	"github.com/shortcode/shortcode/donation/report"
	"github.com/shortcode/shortcode/donation/treasury"
	"github.com/shortcode/shortcode/storage"
	"github.com/shortcode/shortcode/storage/storagetest"
)

// TestContributions: a committee's completed donations of a period, each
// once, oldest first, across pages (many received in the same instant),
// with their certification, settlement, forward and refund.
func TestContributions(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		const n = 1203 // over two pages, and then some
		var ds []donation.Donation
		for i := range n {
			d := donationOf(fmt.Sprintf("d%04d", i), phoneA, 1000, donation.Completed)
			// Three donations to a second: pages break inside a second.
			d.ReceivedAt = t0.Add(time.Duration(i/3) * time.Second)
			d.Carrier, d.ServerRef, d.CarrierFee, d.AggregatorFee = "SimMobile", fmt.Sprintf("SRV-%04d", i), 300, 50
			ds = append(ds, d)
		}
		other := donationOf("other", phoneB, 500, donation.Completed)
		other.CommitteeID, other.ReceivedAt = "C00000002", t0
		declined := donationOf("declined", phoneB, 500, donation.Declined)
		declined.ReceivedAt = t0
		apply(t, db, donation.Result{Donations: append(ds, other, declined), Certification: certOf(phoneA, "d0000", 1000)}, t0, "")
		storagetest.Sequence(t, db)

		file := treasury.SettlementFile{Carrier: "SimMobile", Name: "f.csv", SHA256: "f1", Lines: []treasury.Line{
			{No: 1, ServerRef: "SRV-0000", Reference: "d0000", ChargedAt: t0, Gross: 1000, CarrierFee: 250, Net: 750, Status: treasury.Paid},
			{No: 2, ServerRef: "SRV-0001", Reference: "d0001", ChargedAt: t0, Gross: 1000, CarrierFee: 300, Net: 700, Status: treasury.WrittenOff},
		}}
		ours := []treasury.Ours{{Donation: &ds[0]}, {Donation: &ds[1]}}
		put(t, db, "", treasury.Reconcile(file, ours, "test", t0.Add(time.Hour)))
		put(t, db, "", treasury.Change{Forward: &treasury.Forward{ID: "F1", CommitteeID: committee, Amount: 1000, Count: 1,
			Through: t0.Add(time.Second), At: t0.Add(2 * time.Hour), Reference: "W1"}, Forwarded: []string{"d0000"}})
		r := treasury.Refund{ID: "R1", DonationID: "d0002", Phone: phoneA, CommitteeID: committee, Carrier: "SimMobile",
			Amount: 1000, Reason: treasury.Excessive, Status: treasury.Posted, Correlator: "R1-1", RequestedAt: t0}
		put(t, db, phoneA, treasury.Change{Refund: &r})

		var got []report.Row
		err := db.Contributions(ctx, committee, t0, t0.Add(time.Hour), func(r report.Row) error {
			got = append(got, r)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != n {
			t.Fatalf("%d contributions, want %d", len(got), n)
		}
		for i, r := range got {
			if want := fmt.Sprintf("d%04d", i); r.ID != want {
				t.Fatalf("row %d is %s, want %s", i, r.ID, want)
			}
		}
		if r := got[0]; r.CertificationSeq != 1 || r.Settlement != report.Remitted || r.RemittedNet != 750 || r.CarrierFee != 250 ||
			!r.ForwardedAt.Equal(t0.Add(2*time.Hour)) || r.Refund != nil {
			t.Errorf("d0000: %+v", r)
		}
		if r := got[1]; r.Settlement != report.WrittenOff || !r.RemittedAt.IsZero() || r.CertificationSeq != 0 {
			t.Errorf("d0001: %+v", r)
		}
		if r := got[2]; r.Refund == nil || r.Refund.ID != "R1" || r.Status() != "refund_posted" || r.Settlement != report.Receivable {
			t.Errorf("d0002: %+v", r)
		}
		// The period is half-open, and an error from fn stops the reading.
		count := 0
		stop := fmt.Errorf("stop")
		err = db.Contributions(ctx, committee, t0.Add(time.Second), t0.Add(2*time.Second), func(report.Row) error {
			if count++; count == 2 {
				return stop
			}
			return nil
		})
		if err != stop || count != 2 {
			t.Errorf("stopped: %v after %d", err, count)
		}
	})
}

// TestContributor: a contributor's identity, saved and replaced; an
// unknown one is not found.
func TestContributor(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		if _, err := db.Contributor(ctx, committee, phoneA); !errors.Is(err, donation.ErrNotFound) {
			t.Errorf("unknown: %v", err)
		}
		c := report.Contributor{Name: compliance.Person{Last: "Doe", First: "Jane"}, Employer: "School", Occupation: "Teacher",
			Address: compliance.Address{Street1: "1 Main St", City: "Troy", State: "NY", ZIP: "12180"}}
		for _, occupation := range []string{"Teacher", "Principal"} {
			c.Occupation = occupation
			if err := db.SaveContributor(ctx, committee, phoneA, c, t0); err != nil {
				t.Fatal(err)
			}
			if got, err := db.Contributor(ctx, committee, phoneA); err != nil || got != c {
				t.Errorf("got %+v, %v; want %+v", got, err, c)
			}
		}
	})
}
