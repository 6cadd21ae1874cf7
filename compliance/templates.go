package compliance

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Vars are the values substituted into a message template by Render.
type Vars struct {
	Committee string // {Committee}: the committee's display name
	Amount    string // {amount}: FormatAmount of the donation, without "$"
	URL       string // {url}: the terms page or the donation page, without scheme
	PIN       string // {pin}
	PaidFor   string // {PaidFor}
	Care      string // {care}: the customer-care contact
	Remaining string // {remaining}: FormatAmount of the remaining allowance
	Keyword   string // {keyword}: the program's advertised keyword

	// The program's settings, so that a text that states one cannot
	// contradict it (ProgramVars fills them in).
	MonthCap    string // {MonthCap}: FormatAmount of the monthly cap
	PINMinutes  string // {PINMinutes}: the PIN expiry in minutes
	PricePoints string // {PricePoints}: the price points, e.g. "5, 10, 15 or 20"
}

// placeholders are the placeholders a message template may use.
var placeholders = []string{"{Committee}", "{amount}", "{url}", "{pin}", "{PaidFor}", "{care}", "{remaining}", "{keyword}",
	"{MonthCap}", "{PINMinutes}", "{PricePoints}"}

// ProgramVars returns the values of p's placeholders that do not depend on
// a donation: the committee's, the terms URL as {url}, the advertised
// keyword and the settings.
func ProgramVars(p Program) Vars {
	v := Vars{
		Committee:   p.Committee.DisplayName,
		URL:         p.TermsURL,
		PaidFor:     p.Committee.PaidFor,
		Care:        p.Committee.Care,
		MonthCap:    FormatAmount(p.Limits.Month),
		PINMinutes:  strconv.FormatInt(int64(p.PINExpiry/time.Minute), 10),
		PricePoints: JoinAmounts(p.PricePoints),
	}
	if len(p.Keywords) > 0 {
		v.Keyword = p.Keywords[0]
	}
	return v
}

// JoinAmounts lists amounts the way texts offer them: "5, 10, 15 or 20".
func JoinAmounts(cents []int64) string {
	var b strings.Builder
	for i, c := range cents {
		switch {
		case i == 0:
		case i == len(cents)-1:
			b.WriteString(" or ")
		default:
			b.WriteString(", ")
		}
		b.WriteString(FormatAmount(c))
	}
	return b.String()
}

// Render substitutes v into tmpl. Substitution is a single pass: a value
// that itself contains a placeholder is copied as is. Unknown placeholders
// are left in place (CheckTemplates refuses them).
func Render(tmpl string, v Vars) string {
	return strings.NewReplacer(
		"{Committee}", v.Committee,
		"{amount}", v.Amount,
		"{url}", v.URL,
		"{pin}", v.PIN,
		"{PaidFor}", v.PaidFor,
		"{care}", v.Care,
		"{remaining}", v.Remaining,
		"{keyword}", v.Keyword,
		"{MonthCap}", v.MonthCap,
		"{PINMinutes}", v.PINMinutes,
		"{PricePoints}", v.PricePoints,
	).Replace(tmpl)
}

// FormatAmount formats cents as dollars the way texts print them, without
// the "$": 1000 -> "10", 1050 -> "10.50", 5 -> "0.05".
func FormatAmount(cents int64) string {
	sign := ""
	u := uint64(cents)
	if cents < 0 {
		sign, u = "-", uint64(-cents) // -MinInt64 wraps to itself, which uint64 reads right
	}
	dollars := strconv.FormatUint(u/100, 10)
	if u%100 == 0 {
		return sign + dollars
	}
	return fmt.Sprintf("%s%s.%02d", sign, dollars, u%100)
}

// PINDigits is the length of the PIN texted to donors.
const PINDigits = 6

// TokenChars is the length of a donation page token as printed in a URL: 128
// random bits in unpadded base64url.
const TokenChars = 22

// namedTemplate is one template with its segment allowance.
type namedTemplate struct {
	name string // the JSON name
	text string
	max  int    // segments
	url  string // the longest {url}
}

// placeholderRE finds {placeholders}: braces around a name.
var placeholderRE = regexp.MustCompile(`\{[A-Za-z_]*\}`)

// CheckTemplates checks every template of p.Templates against SPEC §4.4:
// GSM-7 characters only, no unknown {placeholder}, every element Required
// asks of it (the certification in a confirmation, the care contact in
// HELP, "Paid for by" in a receipt...), no literal that
// contradicts p's settings (a monthly amount other than the monthly cap,
// minutes in the PIN text other than the PIN expiry, a list of amounts in
// the amount prompt other than the price points), and, after the longest
// possible substitution for p, one segment for Confirm, ConfirmOnly,
// Certify, Help, Stop and the short refusals (decline, limit reached,
// expired, wrong PIN and the screening texts), and at most two for the
// others. Empty templates are refused. The error lists every failing
// template by its JSON name, with its length in septets after substitution.
func CheckTemplates(p Program) error {
	var errs []error
	for _, t := range p.namedTemplates() {
		if strings.TrimSpace(t.text) != "" {
			if err := checkRequired(t); err != nil {
				errs = append(errs, fmt.Errorf("template %s: %w", t.name, err))
			}
		}
		if err := checkTemplate(p, t); err != nil {
			errs = append(errs, fmt.Errorf("template %s: %w", t.name, err))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("templates: %w", errors.Join(errs...))
	}
	return nil
}

func checkTemplate(p Program, t namedTemplate) error {
	if strings.TrimSpace(t.text) == "" {
		return errors.New("empty")
	}
	var unknown []string
	for _, ph := range placeholderRE.FindAllString(t.text, -1) {
		if !isPlaceholder(ph) {
			unknown = append(unknown, ph)
		}
	}
	if len(unknown) > 0 {
		return fmt.Errorf("unknown placeholder %s (known: %s)", strings.Join(unknown, ", "), strings.Join(placeholders, " "))
	}
	if err := checkSettings(p, t); err != nil {
		return err
	}
	v := longestVars(p)
	v.URL = t.url
	text := Render(t.text, v)
	septets, err := Septets(text)
	if err != nil {
		return fmt.Errorf("after substitution: %w", err)
	}
	segs, err := Segments(text)
	if err != nil {
		return fmt.Errorf("after substitution: %w", err)
	}
	if segs > t.max {
		limit := SingleSegmentSeptets
		if t.max > 1 {
			limit = t.max * MultiSegmentSeptets
		}
		return fmt.Errorf("%d characters (%d segments), must fit %d segment(s) (%d characters), after the longest substitution: %q",
			septets, segs, t.max, limit, text)
	}
	return nil
}

func isPlaceholder(ph string) bool {
	for _, known := range placeholders {
		if ph == known {
			return true
		}
	}
	return false
}

// namedTemplates lists p's templates with their segment allowance and the
// longest URL each may print.
func (p Program) namedTemplates() []namedTemplate {
	terms := p.TermsURL
	page := p.DonationURL + strings.Repeat("x", TokenChars)
	either := terms
	if len(page) > len(either) {
		either = page
	}
	t := p.Templates
	return []namedTemplate{
		{"amount_prompt", t.AmountPrompt, 2, either},
		{"confirm", t.Confirm, 1, terms},
		{"confirm_only", t.ConfirmOnly, 1, terms},
		{"certify", t.Certify, 1, terms},
		{"pin", t.PIN, 2, page},
		{"receipt", t.Receipt, 2, either},
		{"help", t.Help, 1, either},
		{"stop", t.Stop, 1, either},
		{"opt_in", t.OptIn, 2, either},
		{"decline", t.Decline, 1, either},
		{"limit_reached", t.LimitReached, 1, either},
		{"over_limit", t.OverLimit, 2, either},
		{"expired", t.Expired, 1, either},
		{"blocked", t.Blocked, 1, either},
		{"not_us", t.NotUS, 1, either},
		{"prepaid", t.Prepaid, 1, either},
		{"business", t.Business, 1, either},
		{"lookup_failed", t.LookupFailed, 1, either},
		{"wrong_pin", t.WrongPIN, 1, either},
		{"pin_locked", t.PINLocked, 2, either},
		{"cancelled", t.Cancelled, 2, either},
		{"hint", t.Hint, 2, either},
		{"processing", t.Processing, 2, either},
	}
}

// longestVars are the longest values each placeholder can take in p's
// texts (URL is set per template).
func longestVars(p Program) Vars {
	v := ProgramVars(p)
	v.PIN = strings.Repeat("0", PINDigits)
	v.Keyword = ""
	amounts := p.PricePoints
	if len(amounts) == 0 {
		amounts = []int64{p.Limits.PerMessage}
	}
	for _, a := range amounts {
		v.Amount = longer(v.Amount, FormatAmount(a))
	}
	largest := max(p.Limits.PerMessage, p.Limits.Month, p.Limits.Cycle)
	// A remaining allowance may have cents even when every cap is whole
	// dollars (after a partial refund); reserve room for them.
	v.Remaining = FormatAmount(largest/100*100 + 99)
	if largest <= 0 {
		v.Remaining = FormatAmount(largest)
	}
	for _, k := range p.Keywords {
		v.Keyword = longer(v.Keyword, k)
	}
	return v
}

// longer returns the longer of a and b in septets (b on a tie), counting
// non-GSM-7 text by bytes: it fails the check anyway.
func longer(a, b string) string {
	if septetLen(b) >= septetLen(a) {
		return b
	}
	return a
}

func septetLen(s string) int {
	if n, err := Septets(s); err == nil {
		return n
	}
	return len(s)
}
