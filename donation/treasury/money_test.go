package treasury_test

import (
	"errors"
	"testing"

	"github.com/shortcode/shortcode/donation"
	"github.com/shortcode/shortcode/donation/treasury"
)

func TestParseDollars(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want int64
	}{
		{"150000.00", 15000000}, {"125", 12500}, {"12.5", 1250}, {"0.01", 1}, {"0", 0}, {"999999999999.99", 99999999999999},
	} {
		if got, err := treasury.ParseDollars(tt.in); err != nil || got != tt.want {
			t.Errorf("ParseDollars(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []string{"", "-1.00", "+1", "1e3", "1,000.00", "$5", "1.", ".5", "1.001", "1000000000000", " 1", "1 ", "NaN", "0x10"} {
		if _, err := treasury.ParseDollars(bad); !errors.Is(err, donation.ErrInvalid) {
			t.Errorf("ParseDollars(%q): %v, want an invalid error", bad, err)
		}
	}
	for cents, want := range map[int64]string{0: "0.00", 1: "0.01", 1000: "10.00", -1000: "-10.00", 15000000: "150000.00"} {
		if got := treasury.Decimal(cents); got != want {
			t.Errorf("Decimal(%d) = %q, want %q", cents, got, want)
		}
	}
}
