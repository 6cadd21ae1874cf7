package compliance_test

import (
	"strings"
	"testing"
	"time"

	"github.com/shortcode/shortcode/compliance"
)

func TestJoinAmounts(t *testing.T) {
	for _, tc := range []struct {
		cents []int64
		want  string
	}{
		{nil, ""},
		{[]int64{500}, "5"},
		{[]int64{500, 1000}, "5 or 10"},
		{[]int64{500, 1000, 1500, 2000}, "5, 10, 15 or 20"},
		{[]int64{250, 1050}, "2.50 or 10.50"},
	} {
		if got := compliance.JoinAmounts(tc.cents); got != tc.want {
			t.Errorf("JoinAmounts(%v) = %q, want %q", tc.cents, got, tc.want)
		}
	}
}

// The texts that state settings follow the settings: the default templates
// read as SPEC §4.4's for the demo program (with what issue 8 adds: the
// rates in the amount prompt and the PIN text, the message frequency in
// HELP), and change with the program.
func TestSettingsPlaceholders(t *testing.T) {
	p := compliance.DemoProgram("")
	spec := map[string]string{
		"amount_prompt": "Demo PAC: thanks! Reply 5, 10, 15 or 20 to give that many dollars, billed to your mobile account. Msg&data rates may apply. HELP for help, STOP to end.",
		"pin":           "Your PIN is {pin}. Reply with it, or enter it at 127.0.0.1:8080/t/demo, to finish your $ gift to Demo PAC. It expires in 10 min. Msg&data rates may apply.",
		"help":          "Demo PAC text gifts, up to $50/mo on your mobile bill. 4 msgs per gift. Msg&data rates may apply. Help: support@example.org. Reply STOP to end.",
	}
	v := compliance.ProgramVars(p)
	v.PIN = "{pin}"
	got := map[string]string{
		"amount_prompt": compliance.Render(p.Templates.AmountPrompt, v),
		"pin":           compliance.Render(p.Templates.PIN, v),
		"help":          compliance.Render(p.Templates.Help, v),
	}
	for name, want := range spec {
		if got[name] != want {
			t.Errorf("%s:\n got %q\nwant %q", name, got[name], want)
		}
	}

	p.Limits = compliance.Limits{PerMessage: 2500, Month: 10000, Cycle: 50000}
	p.PricePoints = []int64{1000, 2500}
	p.PINExpiry = 5 * time.Minute
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	v = compliance.ProgramVars(p)
	for tmpl, want := range map[string]string{
		p.Templates.AmountPrompt: "Reply 10 or 25 to give",
		p.Templates.PIN:          "It expires in 5 min.",
		p.Templates.Help:         "up to $100/mo on",
	} {
		if text := compliance.Render(tmpl, v); !strings.Contains(text, want) {
			t.Errorf("%q does not say %q", text, want)
		}
	}
}

// A template that states a setting literally must agree with it; the
// placeholders' own values are never read as literals.
func TestCheckTemplatesSettings(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(*compliance.Program)
		want   []string // substrings of the error; none means it passes
	}{
		{"OKSpecLiterals", func(p *compliance.Program) {
			p.Templates.AmountPrompt = "{Committee}: thanks for your support! Reply 5, 10, 15 or 20 to give that many dollars, billed to your mobile account. HELP for help, STOP to end."
			p.Templates.PIN = "Your PIN is {pin}. Reply with it, or enter it at {url}, to finish your ${amount} gift to {Committee}. It expires in 10 min."
			p.Templates.Help = "{Committee} text donations, up to $50/mo on your mobile bill. 4 msgs per gift. Msg&data rates may apply. Help: {care}. Reply STOP to end."
		}, nil},
		{"OKPlaceholdersFollowSettings", func(p *compliance.Program) {
			p.Limits.Month = 10000
			p.Limits.Cycle = 30000
			p.PINExpiry = 3 * time.Minute
			p.PricePoints = []int64{300, 700}
		}, nil},
		{"OKMonthlyLiteralAgrees", func(p *compliance.Program) {
			p.Limits.Month, p.Limits.Cycle = 100000, 200000
			p.Templates.Help = "{Committee} gifts, up to $1,000 per month. 4 msgs per gift. Msg&data rates may apply. Help: {care}. Reply STOP to end."
		}, nil},
		{"OKOtherNumbers", func(p *compliance.Program) {
			p.Templates.Help = "{Committee}: call 1-800-555-0100 or 611 or {care}. 2 or 3 msgs per gift. Msg&data rates may apply. Reply STOP to end."
			p.Templates.Hint = "Text {keyword} in 2 or 3 minutes. HELP for help, STOP to end."
		}, nil},
		{"OKMonthCapPlaceholderNextToMonth", func(p *compliance.Program) {
			p.Templates.Stop = "{Committee}: unsubscribed. ${MonthCap} a month max. Help: {care}."
		}, nil},
		{"ErrHelpMonthly", func(p *compliance.Program) {
			p.Limits.Month, p.Limits.Cycle = 10000, 30000
			p.Templates.Help = "{Committee} text donations, up to $50/mo. 4 msgs per gift. Msg&data rates may apply. Help: {care}. Reply STOP to end."
		}, []string{`template help: states "$50/mo", but the monthly cap is $100: write ${MonthCap} instead`}},
		{"ErrMonthlyAnyTemplate", func(p *compliance.Program) {
			p.Templates.Receipt = "Thanks! ${amount} to {Committee}. Give up to 75 a month. Not tax deductible. Paid for by {PaidFor}."
		}, []string{`template receipt: states "75 a month"`}},
		{"ErrPINMinutes", func(p *compliance.Program) {
			p.PINExpiry = 5 * time.Minute
			p.Templates.PIN = "Your PIN is {pin}, at {url}, for ${amount} to {Committee}. It expires in 10 min."
		}, []string{`template pin: states "10 min", but the PIN expires after 5m0s: write {PINMinutes} instead`}},
		{"ErrPINMinutesNotWhole", func(p *compliance.Program) { p.PINExpiry = 90 * time.Second },
			[]string{"template pin: {PINMinutes} needs a PIN expiry of whole minutes, not 1m30s"}},
		{"ErrPricePoints", func(p *compliance.Program) {
			p.PricePoints = []int64{500, 1000}
			p.Templates.AmountPrompt = "Reply 5, 10 or 20 to give."
		},
			[]string{`template amount_prompt: offers "5, 10 or 20", but the price points are 5 or 10: write {PricePoints} instead`}},
		{"ErrPricePointsWithDollars", func(p *compliance.Program) { p.Templates.AmountPrompt = "{Committee}: give $5 or $25. STOP to end." },
			[]string{`offers "$5 or $25"`}},
		// The longest substitution counts the settings' values too.
		{"ErrPricePointsTooLong", func(p *compliance.Program) {
			p.PricePoints = nil
			for c := int64(101); c <= 2000; c += 41 {
				p.PricePoints = append(p.PricePoints, c)
			}
		}, []string{"template amount_prompt:", "segments"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := compliance.DemoProgram("")
			tc.change(&p)
			checkErr(t, compliance.CheckTemplates(p), tc.want)
		})
	}
}
