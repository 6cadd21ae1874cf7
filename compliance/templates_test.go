package compliance_test

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/shortcode/shortcode/compliance"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from the output (run go test -update and review the diff):\n%s", path, got)
	}
}

// templateFields lists the templates of ts by JSON name, and lets a test
// set one.
func templateFields(ts *compliance.Templates) (names []string, field func(name string) reflect.Value) {
	v := reflect.ValueOf(ts).Elem()
	byName := map[string]reflect.Value{}
	for i := range v.NumField() {
		name, _, _ := strings.Cut(v.Type().Field(i).Tag.Get("json"), ",")
		names = append(names, name)
		byName[name] = v.Field(i)
	}
	return names, func(name string) reflect.Value { return byName[name] }
}

func TestRender(t *testing.T) {
	v := compliance.Vars{
		Committee: "Demo PAC", Amount: "10", URL: "sc.example/t/demo", PIN: "123456",
		PaidFor: "Demo Committee", Care: "800-555-0100", Remaining: "30", Keyword: "GIVE",
		MonthCap: "50", PINMinutes: "10", PricePoints: "5 or 10",
	}
	for _, tc := range []struct{ tmpl, want string }{
		{"", ""},
		{"no placeholders", "no placeholders"},
		{"{Committee}{amount}{url}{pin}{PaidFor}{care}{remaining}{keyword}",
			"Demo PAC10sc.example/t/demo123456Demo Committee800-555-010030GIVE"},
		{"{MonthCap}|{PINMinutes}|{PricePoints}", "50|10|5 or 10"},
		{"Give ${amount} to {Committee}, {Committee}!", "Give $10 to Demo PAC, Demo PAC!"},
		{"{unknown} {committee} {Amount}", "{unknown} {committee} {Amount}"},
		{"{{amount}}", "{10}"},
	} {
		if got := compliance.Render(tc.tmpl, v); got != tc.want {
			t.Errorf("Render(%q) = %q, want %q", tc.tmpl, got, tc.want)
		}
	}
	// Values are not themselves expanded.
	if got := compliance.Render("{Committee}", compliance.Vars{Committee: "{amount}", Amount: "10"}); got != "{amount}" {
		t.Errorf("Render expanded a value: %q", got)
	}
}

func TestFormatAmount(t *testing.T) {
	for _, tc := range []struct {
		cents int64
		want  string
	}{
		{0, "0"}, {1, "0.01"}, {5, "0.05"}, {10, "0.10"}, {99, "0.99"}, {100, "1"},
		{500, "5"}, {1000, "10"}, {1050, "10.50"}, {1005, "10.05"}, {2000, "20"},
		{20000, "200"}, {100_000_00, "100000"}, {-1050, "-10.50"}, {-100, "-1"},
		{-9223372036854775808, "-92233720368547758.08"},
	} {
		if got := compliance.FormatAmount(tc.cents); got != tc.want {
			t.Errorf("FormatAmount(%d) = %q, want %q", tc.cents, got, tc.want)
		}
	}
	// FormatAmount and ParseAmount agree.
	for _, c := range []int64{1, 50, 500, 1050, 1999, 100_000_00} {
		if got, ok := compliance.ParseAmount(compliance.FormatAmount(c)); !ok || got != c {
			t.Errorf("ParseAmount(FormatAmount(%d)) = %d, %v", c, got, ok)
		}
	}
}

func TestCheckTemplatesDefaultsPassForDemo(t *testing.T) {
	for _, base := range []string{"", "http://127.0.0.1:8080", "https://sc.example", "http://localhost:8080", "https://give.example.org"} {
		p := compliance.DemoProgram(base)
		if err := compliance.CheckTemplates(p); err != nil {
			t.Errorf("DemoProgram(%q): %v", base, err)
		}
		p.Mode = compliance.Separate
		p.Committee.Type = compliance.PAC
		if err := compliance.CheckTemplates(p); err != nil {
			t.Errorf("DemoProgram(%q), separate mode, pac: %v", base, err)
		}
	}
}

func TestCheckTemplatesLongDisplayNameFailsConfirm(t *testing.T) {
	p := compliance.DemoProgram("")
	// The confirmation leaves 45 characters for the amount's digits beyond
	// "$", the display name and the terms URL: "20" + 21 for the demo URL
	// leave 22 for the name.
	p.Committee.DisplayName = strings.Repeat("N", 22)
	if err := compliance.CheckTemplates(p); err != nil {
		t.Fatalf("a 22-character name must fit: %v", err)
	}
	p.Committee.DisplayName = strings.Repeat("N", 23)
	err := compliance.CheckTemplates(p)
	if err == nil {
		t.Fatal("a 23-character display name passed")
	}
	msg := err.Error()
	if !strings.Contains(msg, "template confirm: 161 characters (2 segments)") {
		t.Errorf("error does not name confirm and its length: %v", err)
	}
	for _, ok := range []string{"template help", "template stop", "template receipt"} {
		if strings.Contains(msg, ok) {
			t.Errorf("error names %s, which fits: %v", ok, err)
		}
	}
}

func TestCheckTemplatesListsEveryFailure(t *testing.T) {
	p := compliance.DemoProgram("")
	help := "{care} STOP 4 msgs per gift. Msg&data rates may apply. "
	p.Templates.Help = help + strings.Repeat("h", 161-len(help)+len("{care}")-len("support@example.org"))
	p.Templates.Stop = "Unsubscribed from {Committee} {bogus}"
	receipt := "${amount} Paid for by {PaidFor}. Not tax deductible. "
	p.Templates.Receipt = receipt + strings.Repeat("r", 307-len(receipt)+len("{amount}{PaidFor}")-len("20Demo Committee for Testing"))
	p.Templates.Hint = "Text {keyword} 👍"
	p.Templates.Expired = ""
	err := compliance.CheckTemplates(p)
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{
		"template help: 161 characters (2 segments)",
		"template stop: unknown placeholder {bogus}",
		"template receipt: 307 characters (3 segments), must fit 2 segment(s) (306 characters)",
		"template hint: after substitution: not GSM-7: character '👍'",
		"template expired: empty",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	if n := strings.Count(err.Error(), "template "); n != 5 {
		t.Errorf("%d failing templates named, want 5:\n%v", n, err)
	}
}

// Every template field is checked: breaking any one of them fails with its
// JSON name.
func TestCheckTemplatesCoversEveryField(t *testing.T) {
	p := compliance.DemoProgram("")
	names, _ := templateFields(&p.Templates)
	if len(names) != 23 {
		t.Fatalf("%d template fields; update this test", len(names))
	}
	for _, name := range names {
		for _, broken := range []string{"{nope}", strings.Repeat("x", 307), "ü {Committee} ’", ""} {
			q := compliance.DemoProgram("")
			_, field := templateFields(&q.Templates)
			field(name).SetString(broken)
			err := compliance.CheckTemplates(q)
			if err == nil || !strings.Contains(err.Error(), "template "+name+":") {
				t.Errorf("%s = %q: error %v does not name it", name, broken, err)
			}
		}
	}
}

// The longest substitution is used: the longest price point, keyword,
// cap and URL, and a 6-digit PIN.
func TestCheckTemplatesLongestSubstitution(t *testing.T) {
	fits := func(p compliance.Program) error { return compliance.CheckTemplates(p) }
	base := compliance.DemoProgram("")
	fill := func(n int) string { return strings.Repeat("x", n) }
	for _, tc := range []struct {
		name   string
		change func(*compliance.Program)
		fail   string // "" means it fits
	}{
		{"price point with cents", func(p *compliance.Program) {
			// "{amount}" becomes "12.50", 3 more than "20".
			p.PricePoints = []int64{500, 1250}
			p.Committee.DisplayName = fill(20)
		}, "template confirm: 161"},
		{"longest keyword", func(p *compliance.Program) {
			p.Keywords = []string{"GIVE", "G" + fill(240)}
		}, "template opt_in"},
		// The largest cap is $200; a remaining allowance is counted with
		// room for cents ("200.99"), which partial refunds can leave.
		{"remaining from the largest cap", func(p *compliance.Program) {
			p.Templates.Stop = "Unsubscribed" + fill(142) + "{remaining}"
		}, ""},
		{"remaining from the largest cap, one too many", func(p *compliance.Program) {
			p.Templates.Stop = "Unsubscribed" + fill(143) + "{remaining}"
		}, "template stop: 161"},
		{"PIN template uses the donation URL and a token", func(p *compliance.Program) {
			p.Templates.PIN = fill(306-len("127.0.0.1:8080/d/")-22) + "{url}"
		}, ""},
		{"PIN template uses the donation URL and a token, one too many", func(p *compliance.Program) {
			p.Templates.PIN = fill(307-len("127.0.0.1:8080/d/")-22) + "{url}"
		}, "template pin: 307 characters"},
		{"PIN has 6 digits", func(p *compliance.Program) {
			p.Templates.Stop = "Unsubscribed" + fill(142) + "{pin}"
		}, ""},
		{"PIN has 6 digits, one too many", func(p *compliance.Program) {
			p.Templates.Stop = "Unsubscribed" + fill(143) + "{pin}"
		}, "template stop: 161"},
		{"care contact", func(p *compliance.Program) {
			p.Committee.Care = fill(120)
		}, "template stop"},
		{"paid for by", func(p *compliance.Program) {
			p.Committee.PaidFor = fill(200)
		}, "template receipt"},
		{"non-GSM display name", func(p *compliance.Program) {
			p.Committee.DisplayName = "Démo ’PAC’"
		}, "not GSM-7"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := base
			p.Keywords = append([]string(nil), base.Keywords...)
			tc.change(&p)
			err := fits(p)
			switch {
			case tc.fail == "" && err != nil:
				t.Errorf("unexpected error: %v", err)
			case tc.fail != "" && (err == nil || !strings.Contains(err.Error(), tc.fail)):
				t.Errorf("error %v, want one containing %q", err, tc.fail)
			}
		})
	}
}

// TestDemoMessages renders every default text for the demo program, as a
// donor would see it, into a golden file, with its length and segments.
func TestDemoMessages(t *testing.T) {
	p := compliance.DemoProgram("")
	names, field := templateFields(&p.Templates)
	v := compliance.ProgramVars(p)
	v.Amount, v.PIN, v.Remaining = "10", "123456", "30"
	var b strings.Builder
	for _, name := range names {
		v.URL = p.TermsURL
		if name == "pin" {
			v.URL = p.DonationURL + "AAAAAAAAAAAAAAAAAAAAAA"
		}
		text := compliance.Render(field(name).String(), v)
		n, err := compliance.Septets(text)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		segs, _ := compliance.Segments(text)
		if regexp.MustCompile(`\{[A-Za-z_]*\}`).MatchString(text) {
			t.Errorf("%s: placeholder left in %q", name, text)
		}
		fmt.Fprintf(&b, "## %s (%d characters, %d segment(s))\n%s\n\n", name, n, segs, text)
	}
	golden(t, "demo_messages.golden", b.String())
}

func TestCheckTemplatesErrorsWrap(t *testing.T) {
	p := compliance.DemoProgram("")
	p.Templates.Hint = "€ 👍"
	err := compliance.CheckTemplates(p)
	if !errors.Is(err, compliance.ErrNotGSM7) {
		t.Errorf("error %v does not wrap ErrNotGSM7", err)
	}
}

// TestCheckTemplatesRequiredElements: a confirmation, HELP, STOP or receipt
// lacking what SPEC §4.4, CTIA or 11 CFR 110.11 ask of it is refused, and
// the error names the template, the missing element and its source; every
// element of Required is needed (dropping any one form of it fails).
func TestCheckTemplatesRequiredElements(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(*compliance.Templates)
		want   []string
	}{
		{"confirm lacks foreign national", func(ts *compliance.Templates) {
			ts.Confirm = "Reply YES to give ${amount} to {Committee} on your phone bill & certify 18+, own funds, not a fed contractor. Terms {url}"
		}, []string{`template confirm: lacks "foreign national" (52 U.S.C. 30121`}},
		{"confirm lacks contractor and billing", func(ts *compliance.Templates) {
			ts.Confirm = "Reply YES to give ${amount} to {Committee} & certify 18+, own funds, not foreign national. Terms {url}"
		}, []string{"template confirm: lacks that the gift is billed to the mobile account", `"contractor" (52 U.S.C. 30119`}},
		{"confirm lacks the terms link and amount", func(ts *compliance.Templates) {
			ts.Confirm = "Reply YES to give to {Committee} on your phone bill & certify 18+, own funds, not foreign national or fed contractor."
		}, []string{"template confirm: lacks the amount ({amount})", "the terms link ({url}) (SPEC §4.5"}},
		{"certify lacks own funds", func(ts *compliance.Templates) {
			ts.Certify = "Reply YES to certify you are 18+, not a foreign national or federal contractor. Terms {url}"
		}, []string{"template certify: lacks the own-funds certification"}},
		{"help lacks the care contact", func(ts *compliance.Templates) {
			ts.Help = "{Committee} text gifts, up to ${MonthCap}/mo on your mobile bill. 4 msgs per gift. Msg&data rates may apply. Reply STOP to end."
		}, []string{"template help: lacks the customer-care contact ({care}) (CTIA"}},
		{"help lacks frequency and rates", func(ts *compliance.Templates) {
			ts.Help = "{Committee} text gifts. Help: {care}. Reply STOP to end."
		}, []string{"template help: lacks the message frequency", `"Msg&data rates may apply" (CTIA`}},
		{"help lacks STOP", func(ts *compliance.Templates) {
			ts.Help = "{Committee} text gifts. 4 msgs per gift. Msg&data rates may apply. Help: {care}."
		}, []string{`template help: lacks how to stop ("STOP")`}},
		{"stop does not confirm", func(ts *compliance.Templates) {
			ts.Stop = "{Committee}: OK. Help: {care}."
		}, []string{"template stop: lacks a confirmation that the number is unsubscribed", "47 CFR 64.1200(a)(12)"}},
		{"receipt lacks Paid for by", func(ts *compliance.Templates) {
			ts.Receipt = "Thank you! ${amount} to {Committee} will appear on your mobile bill. Not tax deductible."
		}, []string{`template receipt: lacks the disclaimer "Paid for by" (11 CFR 110.11`}},
		{"receipt lacks not tax deductible", func(ts *compliance.Templates) {
			ts.Receipt = "Thank you! ${amount} to {Committee}. Paid for by {PaidFor}."
		}, []string{`template receipt: lacks "not tax deductible" (26 U.S.C. 6113`}},
		{"other wordings pass", func(ts *compliance.Templates) {
			ts.Receipt = "Thanks: ${amount} to {Committee}, on your phone bill. Gifts are NOT TAX-DEDUCTIBLE. PAID FOR BY {PaidFor}."
			ts.Help = "{Committee}: Msg freq varies. Message and data rates may apply. Care: {care}. Text STOP to quit."
			ts.Stop = "{Committee}: you have opted out. No more messages will be sent."
		}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := compliance.DemoProgram("")
			tc.change(&p.Templates)
			checkErr(t, compliance.CheckTemplates(p), tc.want)
			if tc.want != nil {
				checkErr(t, p.Validate(), tc.want)
			}
		})
	}

	// Every element is asked for: the default text without it fails.
	p := compliance.DemoProgram("")
	_, field := templateFields(&p.Templates)
	for name, elems := range compliance.Required {
		text := field(name).String()
		for _, e := range elems {
			if len(compliance.Missing(text, []compliance.Element{e})) != 0 {
				t.Errorf("default %s lacks %s", name, e.Name)
			}
			if e.Source == "" {
				t.Errorf("%s: element %s has no source", name, e.Name)
			}
			stripped := text
			for _, f := range e.Forms {
				stripped = regexp.MustCompile(`(?i)`+regexp.QuoteMeta(f)).ReplaceAllString(stripped, "")
			}
			if len(compliance.Missing(stripped, []compliance.Element{e})) != 1 {
				t.Errorf("%s without %s still passes: %q", name, e.Name, stripped)
			}
		}
	}
}
