package donation_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/shortcode/shortcode/donation/auditlog"
	"github.com/shortcode/shortcode/storage"
	"github.com/shortcode/shortcode/storage/storagetest"
)

// BenchmarkDonation measures one whole text donation (keyword with amount,
// YES, PIN, charge) through the service and a real store, per driver, with
// no sequencer and with the certification log's sequencer running beside
// it (merge delay 100ms); with the log it also reports the merge delay, from
// the YES's commit to the record's inclusion in a signed checkpoint, p50
// and p99. The flow fails the benchmark if any step does:
//
//	go test ./donation -run '^$' -bench Donation
func BenchmarkDonation(b *testing.B) {
	for _, driver := range storagetest.Drivers {
		for _, withLog := range []bool{false, true} {
			name := driver + "/nolog"
			if withLog {
				name = driver + "/log"
			}
			b.Run(name, func(b *testing.B) {
				if driver == storage.Postgres && !storagetest.PostgresAvailable() {
					b.Skip("no PostgreSQL configured")
				}
				benchDonation(b, storagetest.Open(b, driver), withLog)
			})
		}
	}
}

func benchDonation(b *testing.B, db *storage.DB, withLog bool) {
	h := newHarness(b, db, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	if withLog {
		l := &auditlog.Log{Store: db, Signer: storagetest.LogSigner()}
		go func() { defer close(done); l.Run(ctx, 100*time.Millisecond, nil) }()
	} else {
		close(done)
	}
	var phones []string
	committed := map[string]time.Time{} // donation id -> when its YES committed
	b.ResetTimer()
	for i := range b.N {
		phone := fmt.Sprintf("+1212555%04d", i%10000)
		if i < 10000 {
			phones = append(phones, phone)
		}
		h.clock.Advance(24 * 40 * 60 * 60 * 1e9) // a new month for every number's caps
		h.send(phone, "GIVE 5")
		h.send(phone, "YES")
		if withLog {
			ds := h.donations(phone)
			committed[ds[len(ds)-1].ID] = time.Now()
		}
		h.send(phone, h.pins[phone])
		h.charge()
	}
	b.StopTimer()
	if withLog {
		// Let the sequencer take the last ones, then read when it did.
		deadline := time.Now().Add(10 * time.Second)
		for {
			es, _ := db.Entries(ctx, 0, 1<<62)
			if len(es) >= len(committed) || time.Now().After(deadline) {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		cancel()
		<-done
		es, err := db.Entries(context.Background(), 0, 1<<62)
		if err != nil {
			b.Fatal(err)
		}
		var delays []time.Duration
		for _, e := range es {
			if at, ok := committed[e.DonationID]; ok {
				delays = append(delays, e.LoggedAt.Sub(at))
			}
		}
		if len(delays) != len(committed) {
			b.Fatalf("%d of %d certifications logged", len(delays), len(committed))
		}
		slices.Sort(delays)
		b.ReportMetric(float64(delays[len(delays)/2].Microseconds())/1000, "merge-p50-ms")
		b.ReportMetric(float64(delays[len(delays)*99/100].Microseconds())/1000, "merge-p99-ms")
	} else {
		cancel()
		<-done
	}
	h.checkInvariants(phones...)
}
