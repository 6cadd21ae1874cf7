package compliance_test

import (
	"slices"
	"testing"
	"time"

	"github.com/shortcode/shortcode/compliance"
)

func TestDemoProgram(t *testing.T) {
	for _, tc := range []struct{ base, host string }{
		{"", "127.0.0.1:8080"},
		{"http://127.0.0.1:8080", "127.0.0.1:8080"},
		{"http://127.0.0.1:8080/", "127.0.0.1:8080"},
		{"https://sc.example", "sc.example"},
		{"HTTPS://sc.example/", "sc.example"},
		{"sc.example", "sc.example"},
		{"http://localhost:8080", "localhost:8080"},
		{"https://give.example.org", "give.example.org"},
		{"https://ex.org/sc", "ex.org/sc"},
	} {
		t.Run(tc.base, func(t *testing.T) {
			p := compliance.DemoProgram(tc.base)
			if err := p.Validate(); err != nil {
				t.Fatal(err)
			}
			if p.TermsURL != tc.host+"/t/demo" || p.DonationURL != tc.host+"/d/" {
				t.Errorf("URLs %q, %q; want host %q", p.TermsURL, p.DonationURL, tc.host)
			}
		})
	}

	p := compliance.DemoProgram("")
	c := p.Committee
	if p.ID != "demo" || p.ShortCode != "62262" || !slices.Equal(p.Keywords, []string{"GIVE"}) ||
		c.ID != "C99999999" || c.Type != compliance.Candidate || !c.GoodStanding || !p.Active ||
		!slices.Equal(p.PricePoints, []int64{500, 1000, 1500, 2000}) || p.Limits != compliance.DefaultLimits ||
		p.Templates != compliance.DefaultTemplates || p.Mode != compliance.Combined ||
		p.ConfirmExpiry != time.Hour || p.PINExpiry != 10*time.Minute || p.MaxPINTries != 3 || p.MaxReprompts != 2 {
		t.Errorf("DemoProgram does not match SPEC §3: %+v", p)
	}
	// Each call returns its own slices.
	p.Keywords[0] = "CHANGED"
	p.PricePoints[0] = 1
	if q := compliance.DemoProgram(""); q.Keywords[0] != "GIVE" || q.PricePoints[0] != 500 {
		t.Error("DemoProgram shares slices between calls")
	}
	if err := compliance.CheckShortCodes([]compliance.Program{compliance.DemoProgram("")}); err != nil {
		t.Error(err)
	}
}

// The SPEC's numbers: the default limits and the AO 2012-17 confirmation
// structure, which with "on your phone bill" in place of "Msg&data rates
// may apply" (issue 8) leaves 43 characters for the display name and the
// terms URL.
func TestDefaults(t *testing.T) {
	if l := compliance.DefaultLimits; l.PerMessage != 2000 || l.Month != 5000 || !l.Rolling || l.Cycle != 20000 {
		t.Errorf("DefaultLimits = %+v", l)
	}
	fixed, err := compliance.Septets(compliance.Render(compliance.DefaultTemplates.Confirm, compliance.Vars{}))
	if err != nil {
		t.Fatal(err)
	}
	if room := 160 - fixed; room != 45 { // 43 + the two digits of "$20"'s amount
		t.Errorf("confirmation leaves %d characters for amount, name and URL, want 45", room)
	}
}
