package donation_test

import (
	"context"
	"flag"
	"fmt"
	mrand "math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/shortcode/shortcode/compliance"
	"github.com/shortcode/shortcode/donation"
	"github.com/shortcode/shortcode/donation/auditlog"
	"github.com/shortcode/shortcode/donation/donationtest"
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

// BenchmarkHandleMO measures the service's handling of one MO, from the
// webhook's hand-off to its commit, on each store with 10^4 donations
// stored and, with -stored 1000000, with 10^6 as well (filling takes a
// minute or two): the per-MO cost as the history grows. Donors are numbers
// with four donations in their history; each alternates GIVE 5 (a lookup,
// the caps over that history, a reservation) and NO (its release):
//
//	go test ./donation -run '^$' -bench HandleMO -stored 1000000
func BenchmarkHandleMO(b *testing.B) {
	sizes := []int{10_000}
	if *stored > 10_000 {
		sizes = append(sizes, *stored)
	}
	for _, driver := range storagetest.Drivers {
		for _, n := range sizes {
			b.Run(fmt.Sprintf("%s/stored=%d", driver, n), func(b *testing.B) {
				if driver == storage.Postgres && !storagetest.PostgresAvailable() {
					b.Skip("no PostgreSQL configured")
				}
				h := newHarness(b, storagetest.OpenFilled(b, driver, n), nil)
				b.ResetTimer()
				for i := range b.N {
					phone := storagetest.Filled(i/2, n)
					body := "GIVE 5"
					if i%2 == 1 {
						body = "NO"
					}
					h.seq++
					if err := h.svc.HandleMO(h.ctx, donation.MO{Gateway: "bench", MessageID: fmt.Sprintf("SM%032d", h.seq),
						From: phone, To: shortCode, Body: body}); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

var stored = flag.Int("stored", 10_000, "donations stored before BenchmarkHandleMO (10^4, and this many if more)")

// BenchmarkMachine measures the pure state machine's step for the MOs of
// one whole donation (keyword with amount, YES, PIN), with no store.
func BenchmarkMachine(b *testing.B) {
	p := compliance.DemoProgram("https://sc.example")
	line := &donation.Line{Country: "US", Carrier: donationtest.DefaultCarrier, Type: donation.Postpaid}
	key := []byte("bench PIN key, 32 bytes long....")
	rnd := mrand.NewChaCha8([32]byte{2})
	id := 0
	input := func(sub donation.Subscriber, open *donation.Donation) donation.Input {
		return donation.Input{
			PINKey: key, Now: start, Programs: []compliance.Program{p}, Subscriber: sub, Open: open, Line: line,
			Usage:   func(string) ([]compliance.Entry, error) { return nil, nil },
			Blocked: func(string) (bool, error) { return false, nil },
			NewID:   func() string { id++; return fmt.Sprint("d", id) },
			NewPIN: func() string {
				return fmt.Sprintf("%06d", rnd.Uint64()%1_000_000)
			},
			NewToken: func() string { return "token" },
			NewSalt:  func() (s [16]byte) { return s },
		}
	}
	for i := 0; b.Loop(); i++ {
		sub := donation.Subscriber{Phone: "+12125550100", ShortCode: shortCode}
		var open *donation.Donation
		pin := ""
		for _, text := range []string{"GIVE 5", "YES", ""} {
			if text == "" {
				text = pin
			}
			res, err := donation.HandleMO(input(sub, open), donation.MO{Gateway: "bench", MessageID: fmt.Sprint("SM", i, text), From: sub.Phone, To: shortCode, Body: text, At: start})
			if err != nil {
				b.Fatal(err)
			}
			sub = res.Subscriber
			if len(res.Donations) > 0 {
				d := res.Donations[0]
				open = &d
			}
			for _, mt := range res.MTs {
				if m := pinRE.FindStringSubmatch(mt.Body); m != nil {
					pin = m[1]
				}
			}
		}
		if sub.State != donation.Charging {
			b.Fatalf("after the PIN, subscriber = %+v, want charging", sub)
		}
	}
}
