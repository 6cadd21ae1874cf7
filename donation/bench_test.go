package donation_test

import (
	"fmt"
	"testing"

	"github.com/shortcode/shortcode/storage"
	"github.com/shortcode/shortcode/storage/storagetest"
)

// BenchmarkDonation measures one whole text donation (keyword with amount,
// YES, PIN, charge) through the service and a real store, per driver; the
// flow fails the benchmark if any step does:
//
//	go test ./donation -run '^$' -bench Donation
func BenchmarkDonation(b *testing.B) {
	for _, driver := range storagetest.Drivers {
		b.Run(driver, func(b *testing.B) {
			if driver == storage.Postgres && !storagetest.PostgresAvailable() {
				b.Skip("no PostgreSQL configured")
			}
			h := newHarness(b, storagetest.Open(b, driver), nil)
			var phones []string
			b.ResetTimer()
			for i := range b.N {
				phone := fmt.Sprintf("+1212555%04d", i%10000)
				if i < 10000 {
					phones = append(phones, phone)
				}
				h.clock.Advance(24 * 40 * 60 * 60 * 1e9) // a new month for every number's caps
				h.send(phone, "GIVE 5")
				h.send(phone, "YES")
				h.send(phone, h.pins[phone])
				h.charge()
			}
			b.StopTimer()
			h.checkInvariants(phones...)
		})
	}
}
