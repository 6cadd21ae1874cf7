package compliance

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// A text that states one of the program's settings in so many words ("up
// to $50/mo", "it expires in 10 min", "reply 5, 10, 15 or 20") must agree
// with the setting, or a donor is told one thing and held to another. The
// default templates state them through placeholders ({MonthCap},
// {PINMinutes}, {PricePoints}); checkSettings refuses a literal that
// contradicts the program. Each rule looks only where its words cannot
// mean something else: a monthly amount anywhere, minutes in the PIN text,
// a list of amounts in the amount prompt.

var (
	// monthlyRE finds a monthly amount: "$50/mo", "$50 a month", "50 per
	// month", "$1,000 monthly".
	monthlyRE = regexp.MustCompile(`(?i)\$?([0-9][0-9,]*(?:\.[0-9]{2})?)\s*(?:/\s*mo(?:nth)?\b|(?:a|per|each)\s+month\b|monthly\b)`)
	// minutesRE finds a number of minutes: "10 min", "10-minute", "5 mins".
	minutesRE = regexp.MustCompile(`(?i)\b([0-9]+)\s*-?\s*min(?:s|ute|utes)?\b`)
	// amountListRE finds a list of two or more amounts: "5, 10, 15 or 20",
	// "$5 or $10". The leading group keeps it off the middle of a longer
	// number ("555-0100 or 611").
	amountListRE = regexp.MustCompile(`(?:^|[^0-9A-Za-z.\-])(\$?[0-9]+(?:\.[0-9]{2})?(?:\s*,\s*\$?[0-9]+(?:\.[0-9]{2})?)*,?\s+(?:or|and)\s+\$?[0-9]+(?:\.[0-9]{2})?)\b`)
	amountRE     = regexp.MustCompile(`[0-9]+(?:\.[0-9]{2})?`)
)

// checkSettings checks that t states none of p's settings otherwise than
// p has them, and that p's settings can fill its placeholders.
func checkSettings(p Program, t namedTemplate) error {
	if strings.Contains(t.text, "{PINMinutes}") && (p.PINExpiry < time.Minute || p.PINExpiry%time.Minute != 0) {
		return fmt.Errorf("{PINMinutes} needs a PIN expiry of whole minutes, not %s", p.PINExpiry)
	}
	// Only literal text states anything: the placeholders' values are the
	// settings themselves.
	literal := placeholderRE.ReplaceAllString(t.text, "\x00")
	for _, m := range monthlyRE.FindAllStringSubmatch(literal, -1) {
		if cents, ok := parseDollars(strings.ReplaceAll(m[1], ",", "")); !ok || cents != p.Limits.Month {
			return fmt.Errorf("states %q, but the monthly cap is %s: write ${MonthCap} instead", m[0], dollars(p.Limits.Month))
		}
	}
	if t.name == "pin" {
		for _, m := range minutesRE.FindAllStringSubmatch(literal, -1) {
			n, err := strconv.ParseInt(m[1], 10, 64)
			if err != nil || n > int64(1<<62/time.Minute) || time.Duration(n)*time.Minute != p.PINExpiry {
				return fmt.Errorf("states %q, but the PIN expires after %s: write {PINMinutes} instead", m[0], p.PINExpiry)
			}
		}
	}
	if t.name == "amount_prompt" {
		for _, m := range amountListRE.FindAllStringSubmatch(literal, -1) {
			var stated []int64
			for _, a := range amountRE.FindAllString(m[1], -1) {
				cents, _ := parseDollars(a)
				stated = append(stated, cents)
			}
			if !slices.Equal(stated, p.PricePoints) {
				return fmt.Errorf("offers %q, but the price points are %s: write {PricePoints} instead", m[1], JoinAmounts(p.PricePoints))
			}
		}
	}
	return nil
}

// parseDollars reads "50" or "50.00" as cents; ok is false for anything
// else, or more than a billion dollars.
func parseDollars(s string) (cents int64, ok bool) {
	whole, frac, dot := strings.Cut(s, ".")
	if whole == "" || len(whole) > 10 || (dot && len(frac) != 2) {
		return 0, false
	}
	w, err := strconv.ParseInt(whole, 10, 64)
	if err != nil {
		return 0, false
	}
	var f int64
	if dot {
		if f, err = strconv.ParseInt(frac, 10, 64); err != nil || f < 0 {
			return 0, false
		}
	}
	return w*100 + f, true
}
