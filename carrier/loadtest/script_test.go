package loadtest

import (
	"strings"
	"testing"

	"github.com/shortcode/shortcode/compliance"
)

// TestScript: the replies a donor waits for are the program's texts as the
// conversation renders them (donation's vars: the program's values, the
// amount, the terms or donation URL, the PIN), and nothing else.
func TestScript(t *testing.T) {
	demo := compliance.DemoProgram("https://give.example.org")
	render := func(p compliance.Program, tmpl, url, pin string) string {
		v := compliance.ProgramVars(p)
		v.Amount, v.URL, v.PIN = "10", url, pin
		return compliance.Render(tmpl, v)
	}
	separate := demo
	separate.Mode = compliance.Separate
	for _, tc := range []struct {
		name  string
		p     compliance.Program
		first string
		texts []string // the replies, in order
	}{
		{"combined", demo, "GIVE 10", []string{
			render(demo, demo.Templates.Confirm, demo.TermsURL, ""),
			render(demo, demo.Templates.PIN, demo.DonationURL+"AbC123xyz", "042917"),
			render(demo, demo.Templates.Receipt, demo.TermsURL, ""),
		}},
		{"separate", separate, "GIVE 10", []string{
			render(separate, separate.Templates.ConfirmOnly, separate.TermsURL, ""),
			render(separate, separate.Templates.Certify, separate.TermsURL, ""),
			render(separate, separate.Templates.PIN, separate.DonationURL+"tok", "042917"),
			render(separate, separate.Templates.Receipt, separate.TermsURL, ""),
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := NewScript(tc.p, 1000)
			if err != nil {
				t.Fatal(err)
			}
			if s.first() != tc.first || s.MOs() != len(tc.texts) {
				t.Fatalf("first text %q, %d MOs; want %q, %d", s.first(), s.MOs(), tc.first, len(tc.texts))
			}
			for i, st := range s.steps {
				m := st.reply.FindStringSubmatch(tc.texts[i])
				if m == nil {
					t.Fatalf("after the %s: %q does not match %v", st.name, tc.texts[i], st.reply)
				}
				if i == len(s.steps)-2 && (len(m) != 2 || m[1] != "042917") {
					t.Errorf("the PIN text gives %q, want the PIN 042917", m[1:])
				}
				// Any other text is not the reply: the next one, the
				// amount prompt, a decline, the same for another amount.
				others := []string{
					render(tc.p, tc.p.Templates.AmountPrompt, tc.p.TermsURL, ""),
					render(tc.p, tc.p.Templates.Decline, tc.p.TermsURL, ""),
					render(tc.p, tc.p.Templates.WrongPIN, tc.p.TermsURL, ""),
					tc.texts[(i+1)%len(tc.texts)],
				}
				for _, o := range others {
					if st.reply.MatchString(o) {
						t.Errorf("after the %s: %q matches %v", st.name, o, st.reply)
					}
				}
			}
			other := strings.Replace(tc.texts[0], "$10", "$15", 1)
			if other == tc.texts[0] || s.steps[0].reply.MatchString(other) {
				t.Errorf("the confirmation of another amount, %q, matches", other)
			}
		})
	}

	for _, cents := range []int64{700, 0, 2500} {
		if _, err := NewScript(demo, cents); err == nil {
			t.Errorf("NewScript(demo, %d cents): no error", cents)
		}
	}
}
