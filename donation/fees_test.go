package donation_test

import (
	"testing"

	"github.com/shortcode/shortcode/compliance"
	"github.com/shortcode/shortcode/donation"
)

// TestFeesFor: a program's own aggregator fee replaces the carrier
// file's (SPEC §6.3); the carrier's share stays the carrier's.
func TestFeesFor(t *testing.T) {
	carrier := donation.Fees{CarrierBPS: 3000, AggregatorBPS: 500, AggregatorFixed: 10}
	for _, tt := range []struct {
		name                string
		fee                 *compliance.Fee
		wantCarrier, wantAg int64
	}{
		{"the carrier file's", nil, 300, 60},
		{"the program's percent", &compliance.Fee{BPS: 250}, 300, 25},
		{"the program's fixed fee", &compliance.Fee{Fixed: 35}, 300, 35},
		{"none at all", &compliance.Fee{}, 300, 0},
	} {
		c, a := carrier.For(compliance.Program{AggregatorFee: tt.fee}).Apply(1000)
		if c != tt.wantCarrier || a != tt.wantAg {
			t.Errorf("%s: carrier %d, aggregator %d; want %d, %d", tt.name, c, a, tt.wantCarrier, tt.wantAg)
		}
	}
}
