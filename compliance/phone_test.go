package compliance_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/shortcode/shortcode/compliance"
)

func TestParsePhone(t *testing.T) {
	for _, tc := range []struct {
		in, want string // want "" means an error
		us       bool
	}{
		// SPEC §12.3's number plan: every simulated range is valid.
		{"+12015550123", "+12015550123", true},
		{"+12125550100", "+12125550100", true},
		{"+14165550123", "+14165550123", false}, // Toronto: +1 but not US
		{"+12015550100", "+12015550100", true},
		{"+12025550199", "+12025550199", true},
		{"+12035550100", "+12035550100", true},
		{"+12055550100", "+12055550100", true},
		{"+12065550100", "+12065550100", true},
		{"+12075550100", "+12075550100", true},
		{"+12085550100", "+12085550100", true},
		{"+442071838750", "+442071838750", false},

		// How people type numbers.
		{"2015550123", "+12015550123", true},
		{"(201) 555-0123", "+12015550123", true},
		{"201.555.0123", "+12015550123", true},
		{"1 201 555 0123", "+12015550123", true},
		{" +1 201-555-0123 ", "+12015550123", true},

		// Invalid input, not simulated customers.
		{"", "", false},
		{"   ", "", false},
		{"+15555550100", "", false},
		{"+19995550100", "", false},
		{"garbage", "", false},
		{"12345", "", false},
		{"+1201555012", "", false},
		{"+120155501234", "", false},
		{"+12015550123 ext. 7", "", false},
		{"+" + strings.Repeat("1", 100), "", false},
		{"\xff\xfe", "", false},
	} {
		got, err := compliance.ParsePhone(tc.in)
		switch {
		case tc.want == "" && err == nil:
			t.Errorf("ParsePhone(%q) = %q, want an error", tc.in, got)
		case tc.want == "" && !errors.Is(err, compliance.ErrInvalidPhone):
			t.Errorf("ParsePhone(%q) error %v does not wrap ErrInvalidPhone", tc.in, err)
		case tc.want != "" && (err != nil || got != tc.want):
			t.Errorf("ParsePhone(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
		e164 := tc.want
		if e164 == "" {
			e164 = tc.in
		}
		if us := compliance.IsUS(e164); us != tc.us {
			t.Errorf("IsUS(%q) = %v, want %v", e164, us, tc.us)
		}
	}
}

// TestParsePhoneErrorHidesInput: ParsePhone's errors reach the logs, so
// they may show the input masked but never a run of 7 of its digits (SPEC
// §11), however the digits are punctuated.
func TestParsePhoneErrorHidesInput(t *testing.T) {
	for _, in := range []string{
		"+12215550174", // looks right, but 221 is no area code
		"+15555550100",
		"+19995550100",
		"(221) 555-0174",
		"+1201555012",
		"+120155501234",
		"+999 2015550123", // no such country code
		"+12015550123 ext. 7",
		"+1 201 555 0123 x 4567",
		"tel:+1-201-555-0123;ext=22",
		"2015550123#1234567",
		"+123456789012345678901234567890",
		"98765432109876543210987654321098765",
		"+" + strings.Repeat("98765", 20),
		"+1201555O123", // a letter O
	} {
		_, err := compliance.ParsePhone(in)
		if !errors.Is(err, compliance.ErrInvalidPhone) {
			t.Errorf("ParsePhone(%q) error %v does not wrap ErrInvalidPhone", in, err)
			continue
		}
		if run := digitRun(in, err.Error(), 7); run != "" {
			t.Errorf("ParsePhone(%q) error %q shows the digits %s", in, err, run)
		}
	}
}

// digitRun returns a run of n digits of in that text shows, though perhaps
// punctuated as people write numbers, or "".
func digitRun(in, text string, n int) string {
	digits := strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, in)
	text = strings.Map(func(r rune) rune {
		if strings.ContainsRune(" -.()/", r) {
			return -1
		}
		return r
	}, text)
	for i := 0; i+n <= len(digits); i++ {
		if strings.Contains(text, digits[i:i+n]) {
			return digits[i : i+n]
		}
	}
	return ""
}

func TestParsePhoneErrorSaysWhy(t *testing.T) {
	_, err := compliance.ParsePhone("+15555550100")
	if err == nil || !strings.Contains(err.Error(), "+1******0100") || !strings.Contains(err.Error(), "not a valid number") {
		t.Fatalf("error %v does not show the masked input and the reason", err)
	}
}

func TestMaskPhones(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"The 'To' number +12025554321 is not valid", "The 'To' number +1******4321 is not valid"},
		{"Unknown subscriber: tel:+12015554321", "Unknown subscriber: tel:+1******4321"},
		{"tel:%2B12015554321", "tel:%2B12*****4321"},
		{"call (201) 555-4321 or 201.555.4321", "call (2********4321 or 20******4321"},
		{"+1 201 555 4321;ext=12", "+1*********4321;ext=12"},
		{"spending limit 50.00, code SVC0270, 123456", "spending limit 50.00, code SVC0270, 123456"},
		{"", ""},
	} {
		got := compliance.MaskPhones(tc.in)
		if got != tc.want {
			t.Errorf("MaskPhones(%q) = %q, want %q", tc.in, got, tc.want)
		}
		if run := digitRun(tc.in, got, 7); run != "" {
			t.Errorf("MaskPhones(%q) = %q shows the digits %s", tc.in, got, run)
		}
	}
}

func TestMaskPhone(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"+12015554321", "+1******4321"},
		{"+442071838750", "+4*******8750"},
		{"+1234567", "+1**4567"}, {"+123456", "+1*3456"},
		{"123456", "******"},
		{"+1", "**"},
		{"", ""},
	} {
		if got := compliance.MaskPhone(tc.in); got != tc.want {
			t.Errorf("MaskPhone(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
