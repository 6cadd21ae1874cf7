package storage_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/shortcode/shortcode/donation"
	"github.com/shortcode/shortcode/donation/treasury"
	"github.com/shortcode/shortcode/storage"
	"github.com/shortcode/shortcode/storage/storagetest"
)

// TestFindDonations: a treasurer finds donations by full or masked number,
// committee and dates, each with its evidence.
func TestFindDonations(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		day := 24 * time.Hour
		give := func(id, phone, committeeID string, received time.Time, status donation.Status) {
			d := donationOf(id, phone, 1000, status)
			d.CommitteeID, d.ReceivedAt, d.ServerRef, d.ChargePostedAt = committeeID, received, "SRV-"+id, received
			r := donation.Result{Donations: []donation.Donation{d}}
			if !received.IsZero() {
				r.Certification = &donation.Certification{At: received, Phone: phone, DonationID: id, CommitteeID: committeeID,
					ProgramID: "demo", Channel: "sms", MessageID: "SM" + id, TextVersion: "v1", TextSHA256: strings.Repeat("a", 64),
					TermsVersion: "t1", TermsSHA256: strings.Repeat("b", 64), Amount: 1000}
			}
			apply(t, db, r, t0, "")
		}
		give("a1", phoneA, committee, t0, donation.Completed)
		give("a2", phoneA, committee, t0.Add(2*day), donation.Completed)
		give("b1", phoneB, committee, t0.Add(day), donation.Completed)
		give("b2", phoneB, "C00000002", t0.Add(day), donation.Completed)
		give("b3", phoneB, committee, time.Time{}, donation.Cancelled) // created at t0, never received
		r := treasury.Refund{ID: "R1", DonationID: "a2", Phone: phoneA, CommitteeID: committee, Carrier: "SimMobile",
			Amount: 1000, Reason: treasury.DonorRequest, Status: treasury.Posted, Correlator: "R1-1", RequestedAt: t0.Add(3 * day)}
		put(t, db, phoneA, treasury.Change{Refund: &r})

		masked := phoneB[:2] + strings.Repeat("*", len(phoneB)-6) + phoneB[len(phoneB)-4:]
		for _, tt := range []struct {
			name string
			q    treasury.Query
			want string
		}{
			{"everything", treasury.Query{}, "a1 b3 b1 b2 a2"},
			{"one number", treasury.Query{Phone: phoneA}, "a1 a2"},
			{"masked", treasury.Query{Phone: masked, Masked: true}, "b3 b1 b2"},
			{"masked, other digits", treasury.Query{Phone: "+1******9999", Masked: true}, ""},
			{"masked, other length", treasury.Query{Phone: "+1*****" + phoneB[len(phoneB)-4:], Masked: true}, ""},
			{"a committee", treasury.Query{CommitteeID: "C00000002"}, "b2"},
			{"from", treasury.Query{From: t0.Add(day)}, "b1 b2 a2"},
			{"to", treasury.Query{To: t0.Add(day)}, "a1 b3"},
			{"a day", treasury.Query{From: t0.Add(day), To: t0.Add(2 * day), CommitteeID: committee}, "b1"},
			{"limit", treasury.Query{Limit: 2}, "a1 b3"},
		} {
			es, err := db.FindDonations(ctx, tt.q)
			var ids []string
			for _, e := range es {
				ids = append(ids, e.Donation.ID)
			}
			if err != nil || strings.Join(ids, " ") != tt.want {
				t.Errorf("%s: %v, %v; want %s", tt.name, ids, err, tt.want)
			}
		}

		storagetest.Sequence(t, db)
		e, err := db.Evidence(ctx, "a2")
		if err != nil || e.Certification == nil || e.Certification.TextVersion != "v1" || e.CertificationSeq < 1 ||
			!e.PINVerified() || len(e.Refunds) != 1 || e.Refunds[0].ID != "R1" || e.State() != "completed" {
			t.Errorf("evidence of a2 = %+v, %v", e, err)
		}
		if e, err := db.Evidence(ctx, "b3"); err != nil || e.Certification != nil || e.State() != "cancelled" {
			t.Errorf("evidence of b3 = %+v, %v", e, err)
		}
		if _, err := db.Evidence(ctx, "nope"); !errors.Is(err, donation.ErrNotFound) {
			t.Errorf("unknown donation: %v", err)
		}
	})
}
