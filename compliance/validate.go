package compliance

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
)

// FECID is the form of an FEC committee ID.
var FECID = regexp.MustCompile("^C[0-9]{8}$")

// shortCodeRE is a US short code: 5 or 6 digits.
var shortCodeRE = regexp.MustCompile("^[0-9]{5,6}$")

// IsShortCode reports whether s has the form of a US short code: 5 or 6
// digits.
func IsShortCode(s string) bool { return shortCodeRE.MatchString(s) }

// keywordRE is a program keyword: one upper-case word of ASCII letters and
// digits, starting with a letter so that it is never read as an amount or
// a PIN.
var keywordRE = regexp.MustCompile("^[A-Z][A-Z0-9]*$")

// Validate checks that c may receive contributions (SPEC §3, AO 2012-26): an
// FEC ID of the form C and 8 digits, a type (candidate or pac), a name, a
// display name, a "Paid for by" line, a customer-care contact, the
// good-standing flag, a loadable time zone, and for a candidate committee
// with configured elections both dates with PreviousElection before
// NextElection. All problems are reported together.
func (c Committee) Validate() error {
	var errs []error
	if !FECID.MatchString(c.ID) {
		errs = append(errs, fmt.Errorf("FEC ID %q does not match %s", c.ID, FECID))
	}
	switch c.Type {
	case Candidate, PAC:
	default:
		errs = append(errs, fmt.Errorf("type %q is neither %q nor %q", c.Type, Candidate, PAC))
	}
	for _, f := range []struct{ name, value string }{
		{"name", c.Name},
		{"display name", c.DisplayName},
		{"paid-for-by line", c.PaidFor},
		{"customer-care contact", c.Care},
	} {
		if strings.TrimSpace(f.value) == "" {
			errs = append(errs, fmt.Errorf("%s is empty", f.name))
		}
	}
	if !c.GoodStanding {
		errs = append(errs, errors.New("not marked in good standing (AO 2012-26)"))
	}
	if c.TimeZone != "" {
		if _, err := time.LoadLocation(c.TimeZone); err != nil {
			errs = append(errs, fmt.Errorf("time zone %q: %w", c.TimeZone, err))
		}
	}
	if c.Type == Candidate {
		prev, next := c.PreviousElection, c.NextElection
		switch {
		case prev.IsZero() && next.IsZero():
		case prev.IsZero() || next.IsZero():
			errs = append(errs, errors.New("set both previous and next election dates, or neither"))
		case !dateOf(prev).Before(dateOf(next)):
			errs = append(errs, fmt.Errorf("previous election %s is not before next election %s",
				prev.Format(time.DateOnly), next.Format(time.DateOnly)))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("committee %q: %w", c.ID, errors.Join(errs...))
	}
	return nil
}

// Validate checks that p may be saved and activated (SPEC §3, §4.4, §5): an
// ID, a 5–6 digit short code, at least one keyword (each one upper-case word
// of letters and digits, not a STOP, HELP, opt-in, YES or NO word, no
// duplicates), a valid committee, positive ascending price points within the
// per-message cap, positive caps with PerMessage <= Month <= Cycle, positive
// expiries, a known mode, MaxPINTries >= 1, MaxReprompts >= 0, terms and
// donation URLs, and templates that pass CheckTemplates. All problems are
// reported together.
func (p Program) Validate() error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if strings.TrimSpace(p.ID) == "" {
		add("id is empty")
	}
	if !shortCodeRE.MatchString(p.ShortCode) {
		add("short code %q is not 5 or 6 digits", p.ShortCode)
	}
	if len(p.Keywords) == 0 {
		add("no keyword")
	}
	seen := map[string]bool{}
	for _, k := range p.Keywords {
		if err := checkKeyword(k); err != nil {
			errs = append(errs, err)
		}
		if seen[k] {
			add("keyword %q is listed twice", k)
		}
		seen[k] = true
	}
	if err := p.Committee.Validate(); err != nil {
		errs = append(errs, err)
	}
	if len(p.PricePoints) == 0 {
		add("no price points")
	}
	for i, a := range p.PricePoints {
		switch {
		case a <= 0:
			add("price point %s is not positive", dollars(a))
		case a > p.Limits.PerMessage:
			add("price point %s is over the per-message cap %s", dollars(a), dollars(p.Limits.PerMessage))
		}
		if i > 0 && a <= p.PricePoints[i-1] {
			add("price points are not strictly ascending: %s after %s", dollars(a), dollars(p.PricePoints[i-1]))
		}
	}
	l := p.Limits
	for _, c := range []struct {
		name  string
		value int64
	}{{"per-message", l.PerMessage}, {"monthly", l.Month}, {"cycle/year", l.Cycle}} {
		if c.value <= 0 {
			add("%s cap %s is not positive", c.name, dollars(c.value))
		}
	}
	if l.PerMessage > l.Month {
		add("per-message cap %s is over the monthly cap %s", dollars(l.PerMessage), dollars(l.Month))
	}
	if l.Month > l.Cycle {
		add("monthly cap %s is over the cycle/year cap %s", dollars(l.Month), dollars(l.Cycle))
	}
	if p.ConfirmExpiry <= 0 {
		add("confirmation expiry %s is not positive", p.ConfirmExpiry)
	}
	if p.PINExpiry <= 0 {
		add("PIN expiry %s is not positive", p.PINExpiry)
	}
	switch p.Mode {
	case Combined, Separate:
	default:
		add("mode %q is neither %q nor %q", p.Mode, Combined, Separate)
	}
	if p.MaxPINTries < 1 {
		add("max PIN tries %d is less than 1", p.MaxPINTries)
	}
	if p.MaxReprompts < 0 {
		add("max reprompts %d is negative", p.MaxReprompts)
	}
	if strings.TrimSpace(p.TermsURL) == "" {
		add("terms URL is empty")
	}
	if strings.TrimSpace(p.DonationURL) == "" {
		add("donation URL is empty")
	}
	if err := CheckTemplates(p); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return fmt.Errorf("program %q: %w", p.ID, errors.Join(errs...))
	}
	return nil
}

// checkKeyword checks one program keyword.
func checkKeyword(k string) error {
	switch {
	case !keywordRE.MatchString(k):
		return fmt.Errorf("keyword %q is not one upper-case word of letters and digits starting with a letter", k)
	case IsReserved(k):
		return fmt.Errorf("keyword %q is a reserved word (STOP, HELP, START, YES, NO families)", k)
	case LooksLikeStop(k):
		return fmt.Errorf("keyword %q reads as a request to stop", k)
	}
	return nil
}

// dollars formats cents for error messages.
func dollars(cents int64) string { return "$" + FormatAmount(cents) }

// CheckShortCodes checks that on each short code every keyword selects
// exactly one program (SPEC §3; AO 2012-30 allows committees to share a
// short code with a unique keyword each). Keywords are compared case-
// insensitively. Pass the programs that are to coexist, e.g. the active
// ones; entries with the same program ID are the same program. The error
// names each keyword, its short code and both programs.
func CheckShortCodes(programs []Program) error {
	type key struct{ code, word string }
	owner := map[key]string{}
	var errs []error
	for _, p := range programs {
		for _, k := range p.Keywords {
			kk := key{p.ShortCode, strings.ToUpper(strings.TrimSpace(k))}
			first, taken := owner[kk]
			switch {
			case !taken:
				owner[kk] = p.ID
			case first != p.ID:
				errs = append(errs, fmt.Errorf("keyword %q on short code %s maps to both program %q and program %q",
					kk.word, kk.code, first, p.ID))
			}
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("short codes: %w", errors.Join(errs...))
	}
	return nil
}
