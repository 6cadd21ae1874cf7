package oneapi

import (
	"errors"
	"fmt"
	"strconv"
)

// ErrInvalidAmount is wrapped by every error of ParseAmount.
var ErrInvalidAmount = errors.New("oneapi: invalid amount")

// FormatAmount formats an amount in cents as the decimal string OneAPI
// carries on the wire, with exactly two decimal places: 1000 -> "10.00",
// 5 -> "0.05", -1000 -> "-10.00".
func FormatAmount(cents int64) string {
	neg := cents < 0
	u := uint64(cents)
	if neg {
		u = -u // two's complement: also right for math.MinInt64
	}
	frac := u % 100
	s := strconv.FormatUint(u/100, 10) + "." + string(rune('0'+frac/10)) + string(rune('0'+frac%10))
	if neg {
		return "-" + s
	}
	return s
}

// ParseAmount parses a decimal amount string as FormatAmount writes it and
// returns it in cents. It is strict: an optional '-', one or more ASCII
// digits, a '.', and exactly two digits; anything else ("10", "10.0",
// "1e3", " 10.00", "+10.00") or a value outside the range of int64 cents is
// an error wrapping ErrInvalidAmount.
func ParseAmount(s string) (int64, error) {
	bad := func(why string) (int64, error) {
		return 0, fmt.Errorf("%w %q: %s", ErrInvalidAmount, s, why)
	}
	rest := s
	neg := false
	if len(rest) > 0 && rest[0] == '-' {
		neg = true
		rest = rest[1:]
	}
	dot := len(rest) - 3
	if dot < 1 || rest[dot] != '.' {
		return bad("want digits, '.', and two decimal places")
	}
	// limit is the largest magnitude in cents the sign allows.
	limit := uint64(1<<63 - 1)
	if neg {
		limit = 1 << 63
	}
	var u uint64
	for i := 0; i < len(rest); i++ {
		if i == dot {
			continue
		}
		c := rest[i]
		if c < '0' || c > '9' {
			return bad("want digits, '.', and two decimal places")
		}
		d := uint64(c - '0')
		if u > (limit-d)/10 {
			return bad("out of range")
		}
		u = u*10 + d
	}
	if neg {
		return int64(-u), nil // two's complement: right for 1<<63 too
	}
	return int64(u), nil
}
