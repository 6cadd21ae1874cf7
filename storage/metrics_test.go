package storage_test

import (
	"context"
	"testing"
	"time"

	"github.com/shortcode/shortcode/donation"
	"github.com/shortcode/shortcode/storage"
	"github.com/shortcode/shortcode/storage/storagetest"
)

func TestOldestPendingMT(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		oldest := func() time.Time {
			t.Helper()
			at, err := db.OldestPendingMT(ctx)
			if err != nil {
				t.Fatal(err)
			}
			return at
		}
		if at := oldest(); !at.IsZero() {
			t.Errorf("empty outbox: oldest %v, want zero", at)
		}
		apply(t, db, donation.Result{MTs: []donation.MT{{To: phoneA, From: shortCode, Body: "a1"}}}, t0, "SM1")
		apply(t, db, donation.Result{MTs: []donation.MT{{To: phoneB, From: shortCode, Body: "b1"}}}, t0.Add(time.Second), "SM2")
		if at := oldest(); !at.Equal(t0) {
			t.Errorf("oldest %v, want %v", at, t0)
		}
		// a1 fails once: it backs off, and is still the oldest waiting.
		got, err := db.PendingMTs(ctx, t0.Add(2*time.Second), 10, lease)
		if err != nil || len(got) != 2 {
			t.Fatalf("PendingMTs = %v, %v", got, err)
		}
		a1, b1 := got[0], got[1]
		if err := db.MarkRetry(ctx, a1.ID, "503", t0.Add(time.Hour), false); err != nil {
			t.Fatal(err)
		}
		if at := oldest(); !at.Equal(t0) {
			t.Errorf("a1 backing off: oldest %v, want %v", at, t0)
		}
		if err := db.MarkSent(ctx, a1.ID, "SMa1", t0.Add(3*time.Second)); err != nil {
			t.Fatal(err)
		}
		if at := oldest(); !at.Equal(t0.Add(time.Second)) {
			t.Errorf("a1 sent: oldest %v, want %v", at, t0.Add(time.Second))
		}
		if err := db.MarkSent(ctx, b1.ID, "SMb1", t0.Add(3*time.Second)); err != nil {
			t.Fatal(err)
		}
		if at := oldest(); !at.IsZero() {
			t.Errorf("all sent: oldest %v, want zero", at)
		}
	})
}

func TestChargeCounts(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		counts := func() (int, int) {
			t.Helper()
			charging, unknown, err := db.ChargeCounts(ctx)
			if err != nil {
				t.Fatal(err)
			}
			return charging, unknown
		}
		if c, u := counts(); c != 0 || u != 0 {
			t.Errorf("empty: %d charging, %d unknown; want 0, 0", c, u)
		}
		posted := donationOf("posted", phoneA, 500, donation.Open)
		posted.ChargePostedAt = t0
		asking := donationOf("asking", phoneB, 500, donation.Open)
		asking.ChargePostedAt, asking.ChargeAttempts = t0, 2
		done := donationOf("done", phoneB, 500, donation.Completed)
		done.ChargePostedAt, done.ChargeAttempts = t0, 1
		open := donationOf("open", phoneB, 500, donation.Open)
		apply(t, db, donation.Result{Donations: []donation.Donation{posted}}, t0, "")
		apply(t, db, donation.Result{Donations: []donation.Donation{asking, done, open}}, t0, "")
		if c, u := counts(); c != 2 || u != 1 {
			t.Errorf("%d charging, %d unknown; want 2, 1", c, u)
		}
	})
}
