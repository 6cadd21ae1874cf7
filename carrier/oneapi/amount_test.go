package oneapi_test

import (
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/shortcode/shortcode/carrier/oneapi"
)

func TestFormatAmount(t *testing.T) {
	tests := []struct {
		cents int64
		want  string
	}{
		{0, "0.00"},
		{5, "0.05"},
		{99, "0.99"},
		{100, "1.00"},
		{1000, "10.00"},
		{2599, "25.99"},
		{-5, "-0.05"},
		{-1000, "-10.00"},
		{math.MaxInt64, "92233720368547758.07"},
		{math.MinInt64, "-92233720368547758.08"},
	}
	for _, tt := range tests {
		if got := oneapi.FormatAmount(tt.cents); got != tt.want {
			t.Errorf("FormatAmount(%d) = %q, want %q", tt.cents, got, tt.want)
		}
	}
}

func TestParseAmount(t *testing.T) {
	good := []struct {
		s    string
		want int64
	}{
		{"0.00", 0},
		{"-0.00", 0},
		{"0.05", 5},
		{"10.00", 1000},
		{"25.99", 2599},
		{"007.50", 750},
		{"-10.00", -1000},
		{"92233720368547758.07", math.MaxInt64},
		{"-92233720368547758.08", math.MinInt64},
	}
	for _, tt := range good {
		got, err := oneapi.ParseAmount(tt.s)
		if err != nil || got != tt.want {
			t.Errorf("ParseAmount(%q) = %d, %v; want %d", tt.s, got, err, tt.want)
		}
	}

	bad := []string{
		"", "-", ".", ".00", "-.00", "10", "10.", "10.0", "10.000", "1e3", "1e3.00",
		" 10.00", "10.00 ", "10.00\n", "+10.00", "--10.00", "- 10.00", "10,00", "10.0a",
		"1_0.00", "0x1.00", "１0.00", "10.0０", "10..00", "1.0.00", "NaN", "Inf.00",
		"92233720368547758.08", "-92233720368547758.09", "99999999999999999999.00",
		strings.Repeat("9", 1000) + ".00",
	}
	for _, s := range bad {
		if got, err := oneapi.ParseAmount(s); !errors.Is(err, oneapi.ErrInvalidAmount) {
			t.Errorf("ParseAmount(%q) = %d, %v; want an error wrapping ErrInvalidAmount", s, got, err)
		}
	}
}

func TestAmountRoundTrip(t *testing.T) {
	for _, c := range []int64{0, 1, 9, 10, 99, 100, 101, 1000, 123456789, -1, -99, -100, -123456789,
		math.MaxInt64, math.MaxInt64 - 1, math.MinInt64, math.MinInt64 + 1} {
		s := oneapi.FormatAmount(c)
		got, err := oneapi.ParseAmount(s)
		if err != nil || got != c {
			t.Errorf("ParseAmount(FormatAmount(%d) = %q) = %d, %v", c, s, got, err)
		}
	}
}

func FuzzParseAmount(f *testing.F) {
	for _, s := range []string{"10.00", "-0.05", "1e3", "92233720368547758.07", "-92233720368547758.08", "007.50"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := oneapi.ParseAmount(s)
		if err != nil {
			return
		}
		// What parses formats back the same, but for leading zeros and "-0".
		again, err := oneapi.ParseAmount(oneapi.FormatAmount(c))
		if err != nil || again != c {
			t.Errorf("ParseAmount(%q) = %d, which does not round-trip: %d, %v", s, c, again, err)
		}
	})
}
