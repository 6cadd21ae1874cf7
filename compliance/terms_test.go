package compliance_test

import (
	"crypto/sha256"
	"encoding/hex"
	"regexp"
	"strings"
	"testing"

	"github.com/shortcode/shortcode/compliance"
)

func TestTermsCoverSPEC45(t *testing.T) {
	p := compliance.DemoProgram("")
	text := compliance.Terms(p)
	for _, want := range []string{
		"Demo Committee for Testing (\"Demo PAC\" in our texts) is registered with the Federal Election Commission as committee C99999999.",
		"United States citizen or a lawful permanent resident",
		"18 years of age or older",
		"my own funds",
		"will not be reimbursed",
		"not a federal government contractor",
		"not paid for by a corporation, labor organization or other business",
		"A foreign national is",
		"A federal government contractor is",
		"at most $20 in one message",
		"$5, $10, $15, $20",
		"at most $50 per calendar month and in any 31 days",
		"at most $200 per election cycle",
		"appears on your next mobile phone bill",
		"short code 62262",
		"fees",
		"receives less than the amount you give",
		"refund",
		"Customer care: support@example.org.",
		"Text HELP to 62262",
		"Text STOP to 62262",
		"Privacy",
		"not tax deductible",
		"Paid for by Demo Committee for Testing.",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("terms lack %q", want)
		}
	}
	if left := regexp.MustCompile(`\{[A-Za-z_]*\}`).FindString(text); left != "" {
		t.Errorf("placeholder %s left in the terms", left)
	}

	p.Committee.Type = compliance.PAC
	p.Limits.Rolling = false
	pac := compliance.Terms(p)
	if !strings.Contains(pac, "at most $200 per calendar year") || strings.Contains(pac, "31 days") {
		t.Errorf("pac terms do not state the calendar-year limit without the rolling rule")
	}
	if v1, _ := compliance.Version(text); v1 == func() string { v, _ := compliance.Version(pac); return v }() {
		t.Error("different terms have the same version")
	}
	golden(t, "terms_demo.golden", text)
}

func TestVersion(t *testing.T) {
	for _, text := range []string{"", "a", compliance.TermsText, compliance.DefaultTemplates.Confirm} {
		version, sum := compliance.Version(text)
		want := sha256.Sum256([]byte(text))
		if sum != hex.EncodeToString(want[:]) {
			t.Errorf("Version(%q) sha256 = %s", text, sum)
		}
		if version != "v1-"+sum[:12] {
			t.Errorf("Version(%q) = %s, want v1- and 12 hex digits of %s", text, version, sum)
		}
	}
	if v, sum := compliance.Version(""); v != "v1-e3b0c44298fc" || sum != "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" {
		t.Errorf("Version(\"\") = %s, %s", v, sum)
	}
	a, _ := compliance.Version("Reply YES")
	b, _ := compliance.Version("Reply YES ")
	if a == b {
		t.Error("one trailing space does not change the version")
	}
}
