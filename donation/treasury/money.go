package treasury

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/shortcode/shortcode/donation"
)

// maxDollarDigits bounds the whole dollars ParseDollars takes: a trillion
// dollars is far beyond any forward, and far from overflowing int64 cents.
const maxDollarDigits = 12

// ParseDollars reads an amount in dollars as people and spreadsheets write
// it, "150000.00", "125", "12.5", into cents. Negative, signed, exponent,
// grouped or larger amounts are refused with an error wrapping
// donation.ErrInvalid.
func ParseDollars(s string) (int64, error) {
	whole, frac, dot := strings.Cut(s, ".")
	if whole == "" || len(whole) > maxDollarDigits || !digits(whole) || !digits(frac) || (dot && (frac == "" || len(frac) > 2)) {
		return 0, fmt.Errorf("amount %.40q: want dollars such as 125.00: %w", s, donation.ErrInvalid)
	}
	w, _ := strconv.ParseInt(whole, 10, 64)
	c, _ := strconv.ParseInt((frac + "00")[:2], 10, 64)
	return w*100 + c, nil
}

// Decimal formats cents as a decimal of dollars, as the API and the
// settlement files write amounts: "10.00", "-10.00".
func Decimal(cents int64) string {
	sign := ""
	if cents < 0 {
		sign, cents = "-", -cents
	}
	return fmt.Sprintf("%s%d.%02d", sign, cents/100, cents%100)
}
