package loadtest

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/shortcode/shortcode/compliance"
)

// step is one text a donor sends and the reply it waits for.
type step struct {
	name  string         // what the MO is, for errors: "keyword", "yes", "certify", "pin"
	reply *regexp.Regexp // the text expected back; a PIN text's first group is the PIN
}

// Script is the conversation every donor has with a program (SPEC §4.2):
// the keyword with the amount, YES (twice in separate mode), the PIN read
// from the PIN text, then the receipt. The replies are the program's own
// templates, so a changed text is still recognised.
type Script struct {
	Program compliance.Program
	Amount  int64 // cents
	Keyword string
	steps   []step
}

// The sentinels rendered in place of a donation's own values, replaced by
// patterns once the rest is quoted.
const (
	pinSentinel = "\x00pin\x00"
	urlSentinel = "\x00url\x00"
)

// NewScript returns the conversation with p for amount cents, which must be
// one of p's price points within its per-message cap.
func NewScript(p compliance.Program, amount int64) (*Script, error) {
	switch {
	case len(p.Keywords) == 0:
		return nil, fmt.Errorf("program %s has no keyword", p.ID)
	case !slices.Contains(p.PricePoints, amount):
		return nil, fmt.Errorf("$%s is not a price point of program %s (%s)", compliance.FormatAmount(amount), p.ID, compliance.JoinAmounts(p.PricePoints))
	case amount > p.Limits.PerMessage:
		return nil, fmt.Errorf("$%s is over program %s's per-message cap of $%s", compliance.FormatAmount(amount), p.ID, compliance.FormatAmount(p.Limits.PerMessage))
	}
	s := &Script{Program: p, Amount: amount, Keyword: p.Keywords[0]}
	t := p.Templates
	if p.Mode == compliance.Separate {
		s.steps = []step{{"keyword", s.pattern(t.ConfirmOnly)}, {"yes", s.pattern(t.Certify)}, {"certify", s.pattern(t.PIN)}}
	} else {
		s.steps = []step{{"keyword", s.pattern(t.Confirm)}, {"yes", s.pattern(t.PIN)}}
	}
	s.steps = append(s.steps, step{"pin", s.pattern(t.Receipt)})
	return s, nil
}

// MOs is how many texts a donor sends in one conversation.
func (s *Script) MOs() int { return len(s.steps) }

// first is the conversation's first text: the keyword with the amount.
func (s *Script) first() string {
	return s.Keyword + " " + compliance.FormatAmount(s.Amount)
}

// pattern is the regexp of the text tmpl renders for this script's
// donation: the program's values and the amount as they are, any URL, and
// the PIN, digits, as the first group.
func (s *Script) pattern(tmpl string) *regexp.Regexp {
	v := compliance.ProgramVars(s.Program)
	v.Amount = compliance.FormatAmount(s.Amount)
	v.PIN, v.URL = pinSentinel, urlSentinel
	q := regexp.QuoteMeta(compliance.Render(tmpl, v))
	q = strings.ReplaceAll(q, pinSentinel, `([0-9]+)`)
	q = strings.ReplaceAll(q, urlSentinel, `\S+`)
	return regexp.MustCompile(`^` + q + `$`)
}
