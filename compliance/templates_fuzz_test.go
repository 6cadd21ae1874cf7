package compliance_test

import (
	"strings"
	"testing"

	"github.com/warthog618/sms/encoding/gsm7"

	"github.com/shortcode/shortcode/compliance"
)

// fuzzTemplates are the templates with the segments SPEC §4.4 allows each
// once rendered: one for the confirmations, HELP, STOP and the short
// refusals, two for the others. The confirmations' {url} is the terms
// page, the PIN text's the donation page, the others' either.
var fuzzTemplates = []struct {
	name string
	max  int
	get  func(*compliance.Templates) *string
	url  string // "terms", "page", or "" for either
}{
	{"amount_prompt", 2, func(t *compliance.Templates) *string { return &t.AmountPrompt }, ""},
	{"confirm", 1, func(t *compliance.Templates) *string { return &t.Confirm }, "terms"},
	{"confirm_only", 1, func(t *compliance.Templates) *string { return &t.ConfirmOnly }, "terms"},
	{"certify", 1, func(t *compliance.Templates) *string { return &t.Certify }, "terms"},
	{"pin", 2, func(t *compliance.Templates) *string { return &t.PIN }, "page"},
	{"receipt", 2, func(t *compliance.Templates) *string { return &t.Receipt }, ""},
	{"help", 1, func(t *compliance.Templates) *string { return &t.Help }, ""},
	{"stop", 1, func(t *compliance.Templates) *string { return &t.Stop }, ""},
	{"opt_in", 2, func(t *compliance.Templates) *string { return &t.OptIn }, ""},
	{"decline", 1, func(t *compliance.Templates) *string { return &t.Decline }, ""},
	{"limit_reached", 1, func(t *compliance.Templates) *string { return &t.LimitReached }, ""},
	{"over_limit", 2, func(t *compliance.Templates) *string { return &t.OverLimit }, ""},
	{"expired", 1, func(t *compliance.Templates) *string { return &t.Expired }, ""},
	{"blocked", 1, func(t *compliance.Templates) *string { return &t.Blocked }, ""},
	{"not_us", 1, func(t *compliance.Templates) *string { return &t.NotUS }, ""},
	{"prepaid", 1, func(t *compliance.Templates) *string { return &t.Prepaid }, ""},
	{"business", 1, func(t *compliance.Templates) *string { return &t.Business }, ""},
	{"lookup_failed", 1, func(t *compliance.Templates) *string { return &t.LookupFailed }, ""},
	{"wrong_pin", 1, func(t *compliance.Templates) *string { return &t.WrongPIN }, ""},
	{"pin_locked", 2, func(t *compliance.Templates) *string { return &t.PINLocked }, ""},
	{"cancelled", 2, func(t *compliance.Templates) *string { return &t.Cancelled }, ""},
	{"hint", 2, func(t *compliance.Templates) *string { return &t.Hint }, ""},
	{"processing", 2, func(t *compliance.Templates) *string { return &t.Processing }, ""},
}

// FuzzCheckTemplates: a program whose templates CheckTemplates accepts
// never sends a text that is not GSM-7 or longer than its template's
// allowance, whatever values the conversation substitutes (each price
// point, any remaining allowance up to the caps, a 6-digit PIN, the page's
// URL with its token, each keyword); one it refuses is named in the error.
// The committee's display name, one template and the values substituted
// are the fuzzer's.
func FuzzCheckTemplates(f *testing.F) {
	d := compliance.DemoProgram("https://sc.example")
	for i, t := range fuzzTemplates {
		f.Add(uint8(i), *t.get(&d.Templates), d.Committee.DisplayName, uint16(i))
	}
	f.Add(uint8(1), d.Templates.Confirm+strings.Repeat("x", 40), "Demo", uint16(0))
	f.Add(uint8(4), "Your PIN is {pin}: {url}{url}", "€€€€€€€€€€", uint16(47))
	f.Add(uint8(6), d.Templates.Help+" {unknown}", "Demo PAC", uint16(3))
	f.Add(uint8(11), "Only ${remaining} left this month of ${MonthCap}.", "{amount}", uint16(23))
	f.Fuzz(func(t *testing.T, which uint8, text, display string, pick uint16) {
		p := compliance.DemoProgram("https://sc.example")
		ft := fuzzTemplates[int(which)%len(fuzzTemplates)]
		*ft.get(&p.Templates) = text
		p.Committee.DisplayName = display
		err := compliance.CheckTemplates(p)
		if err != nil {
			if display == d.Committee.DisplayName && !strings.Contains(err.Error(), "template "+ft.name+":") {
				t.Fatalf("CheckTemplates refused %q as %s without naming it: %v", text, ft.name, err)
			}
			return
		}
		vars := map[string][]compliance.Vars{} // by kind of URL: 3 kinds, 23 templates
		for _, tt := range fuzzTemplates {
			vs, ok := vars[tt.url]
			if !ok {
				vs = fuzzVars(p, tt.url)
				vars[tt.url] = vs
			}
			v := vs[int(pick)%len(vs)]
			msg := compliance.Render(*tt.get(&p.Templates), v)
			segs, err := compliance.Segments(msg)
			if err != nil || segs > tt.max || segs == 0 {
				t.Fatalf("%s accepted, but with %+v it renders %q: %d segments (allowed %d), %v", tt.name, v, msg, segs, tt.max, err)
			}
		}
	})
}

// fuzzVars are values the conversation substitutes into p's texts, with
// {url} of the given kind.
func fuzzVars(p compliance.Program, kind string) []compliance.Vars {
	page := p.DonationURL + strings.Repeat("A", compliance.TokenChars)
	urls := map[string][]string{"terms": {p.TermsURL}, "page": {page}, "": {p.TermsURL, page}}[kind]
	var out []compliance.Vars
	for _, amount := range p.PricePoints {
		for _, remaining := range []int64{0, 1, 99, p.Limits.Month - 1, p.Limits.Month, p.Limits.Cycle - 1} {
			for _, url := range urls {
				v := compliance.ProgramVars(p)
				v.Amount = compliance.FormatAmount(amount)
				v.Remaining = compliance.FormatAmount(remaining)
				v.PIN = "987654"
				v.URL = url
				out = append(out, v)
			}
		}
	}
	for _, k := range p.Keywords {
		v := compliance.ProgramVars(p)
		v.Keyword = k
		out = append(out, v)
	}
	return out
}

// FuzzGSM7: Septets and Segments agree with the GSM 03.38 codec itself:
// text they accept encodes to exactly that many septets and decodes back
// to itself; text they refuse does not encode (or holds the escape
// character, which is no character of the alphabet).
func FuzzGSM7(f *testing.F) {
	for _, s := range []string{"", "Hello @£$¥", "€{}[]~|\\^\f", "ÄÖÑÜ§¿äöñüà", "👍", "\x1b", "\xff", "\r\n", "ç", "Ç", strings.Repeat("€", 81)} {
		f.Add(s)
	}
	enc, dec := gsm7.NewEncoder(), gsm7.NewDecoder()
	f.Fuzz(func(t *testing.T, s string) {
		n, err := compliance.Septets(s)
		g, encErr := enc.Encode([]byte(s))
		if err != nil {
			if encErr == nil && !strings.ContainsRune(s, '\x1b') {
				t.Fatalf("Septets(%q) refused (%v), but the codec encodes it: %x", s, err, g)
			}
			return
		}
		if encErr != nil || len(g) != n {
			t.Fatalf("Septets(%q) = %d, the codec %d septets, %v", s, n, len(g), encErr)
		}
		back, err := dec.Decode(g)
		if err != nil || string(back) != s {
			t.Fatalf("%q encodes to %x, which decodes to %q, %v", s, g, back, err)
		}
	})
}
