package storage_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/shortcode/shortcode/compliance/certlog"
	"github.com/shortcode/shortcode/donation"
	"github.com/shortcode/shortcode/storage"
	"github.com/shortcode/shortcode/storage/storagetest"
)

// TestLogAppendOnly: SPEC §8. The database itself refuses to change or
// remove a record, a hash, a checkpoint, a queued certification or a text.
func TestLogAppendOnly(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		c := certOf(phoneA, "d1", 500)
		c.Text, c.Terms = "Reply YES", "Terms"
		apply(t, db, donation.Result{Donations: []donation.Donation{donationOf("d1", phoneA, 500, donation.Open)}, Certification: c}, t0, "")
		storagetest.Sequence(t, db)
		for _, q := range []string{
			`UPDATE cert_log SET phone = '+12125550199'`,
			`DELETE FROM cert_log`,
			`UPDATE cert_hashes SET hash = '00'`,
			`DELETE FROM cert_hashes`,
			`UPDATE cert_checkpoints SET signed = ''`,
			`DELETE FROM cert_checkpoints`,
			`UPDATE cert_queue SET amount = 1`,
			`DELETE FROM cert_queue`,
			`UPDATE cert_texts SET body = 'other'`,
			`DELETE FROM cert_texts`,
		} {
			if err := db.ExecForTest(ctx, q); err == nil || !strings.Contains(err.Error(), "append-only") {
				t.Errorf("%s: %v, want refused as append-only", q, err)
			}
		}
		if db.Driver() == storage.Postgres {
			if err := db.ExecForTest(ctx, `TRUNCATE cert_log`); err == nil || !strings.Contains(err.Error(), "append-only") {
				t.Errorf("TRUNCATE cert_log: %v", err)
			}
		}
		es, err := db.Entries(ctx, 0, 10)
		if err != nil || len(es) != 1 || es[0].Opening.Phone != phoneA {
			t.Errorf("entries after the refused changes = %+v, %v", es, err)
		}
		if body, err := db.CertText(ctx, c.TextSHA256); err != nil || body != "Reply YES" {
			t.Errorf("CertText = %q, %v", body, err)
		}
	})
}

// TestSequencerConcurrent: SPEC §10 (6). Sequencers racing (as on several
// servers) while certifications keep committing build one tree: every
// certification gets exactly one index, with no gap, and the latest
// checkpoint verifies over all of them.
func TestSequencerConcurrent(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		const n = 60
		var wg sync.WaitGroup
		stop := make(chan struct{})
		for range 3 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					select {
					case <-stop:
						return
					default:
					}
					storagetest.Sequence(t, db)
				}
			}()
		}
		var writers sync.WaitGroup
		for i := range n {
			writers.Add(1)
			go func() {
				defer writers.Done()
				phone := fmt.Sprintf("+1202555%04d", 300+i)
				id := fmt.Sprintf("c%02d", i)
				if err := db.Update(ctx, phone, func(tx donation.Tx) error {
					return tx.Apply(ctx, donation.Result{Donations: []donation.Donation{donationOf(id, phone, 500, donation.Open)},
						Certification: certOf(phone, id, 500)}, t0, "")
				}); err != nil {
					t.Error(err)
				}
			}()
		}
		writers.Wait()
		close(stop)
		wg.Wait()
		if size := storagetest.Sequence(t, db); size != n {
			t.Fatalf("log size %d, want %d", size, n)
		}
		es, err := db.Entries(ctx, 0, n)
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]bool{}
		for i, e := range es {
			r, err := certlog.Parse(e.Record)
			if err != nil || r.Index != int64(i) || e.Index != int64(i) || seen[e.DonationID] {
				t.Fatalf("entry %d: %+v, %v (seen %v)", i, r, err, seen[e.DonationID])
			}
			seen[e.DonationID] = true
			if err := e.Opening.Check(r); err != nil {
				t.Errorf("entry %d: %v", i, err)
			}
		}
		signed, err := db.Checkpoint(ctx)
		if err != nil {
			t.Fatal(err)
		}
		c, err := certlog.OpenCheckpoint(signed, storagetest.LogVerifier())
		if err != nil || c.N != n {
			t.Fatalf("checkpoint %+v, %v", c, err)
		}
	})
}

// TestLogWebOpening: SPEC §8. A web certification's IP address and user
// agent are kept with its salt and number, in the queue and in the log, so
// that the opening checks the record's client digest; a PIN verification
// is kept with its channel, time and origin.
func TestLogWebOpening(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		c := certOf(phoneA, "w1", 500)
		c.Channel, c.MessageID, c.IP, c.UserAgent = certlog.Web, "", "192.0.2.7", "Mozilla/5.0 (test)"
		v := &donation.PINVerification{DonationID: "w1", At: t0, Channel: certlog.Web, IP: "192.0.2.8", UserAgent: "Mozilla/5.0 (pin)"}
		apply(t, db, donation.Result{Donations: []donation.Donation{donationOf("w1", phoneA, 500, donation.Open)},
			Certification: c, Verification: v}, t0, "")
		storagetest.Sequence(t, db)
		e, err := db.EntryOf(ctx, "w1")
		if err != nil {
			t.Fatal(err)
		}
		r, err := certlog.Parse(e.Record)
		if err != nil {
			t.Fatal(err)
		}
		if r.Channel != certlog.Web || r.MessageID != "" || e.Opening.IP != c.IP || e.Opening.UserAgent != c.UserAgent {
			t.Errorf("record %+v, opening %+v", r, e.Opening)
		}
		if err := e.Opening.Check(r); err != nil {
			t.Errorf("opening: %v", err)
		}
		wrong := e.Opening
		wrong.UserAgent = "curl/8"
		if err := wrong.Check(r); err == nil {
			t.Error("an opening with another user agent checks")
		}
		got, err := db.Verification(ctx, "w1")
		if err != nil || got.Channel != v.Channel || got.IP != v.IP || got.UserAgent != v.UserAgent || !got.At.Equal(t0) {
			t.Errorf("Verification = %+v, %v", got, err)
		}
		if _, err := db.Verification(ctx, "none"); !errors.Is(err, donation.ErrNotFound) {
			t.Errorf("Verification of none: %v", err)
		}
	})
}
