package treasury_test

import (
	"testing"

	"github.com/shortcode/shortcode/donation"
	"github.com/shortcode/shortcode/donation/treasury"
)

func TestParsePhoneQuery(t *testing.T) {
	for _, tt := range []struct {
		in, phone string
		masked    bool
	}{
		{"+12125550100", "+12125550100", false},
		{"(212) 555-0100", "+12125550100", false},
		{"+1******0100", "+1******0100", true},
	} {
		phone, masked, err := treasury.ParsePhoneQuery(tt.in)
		if err != nil || phone != tt.phone || masked != tt.masked {
			t.Errorf("ParsePhoneQuery(%q) = %q, %v, %v", tt.in, phone, masked, err)
		}
	}
	for _, bad := range []string{"", "+1**", "+1******01x0", "*", "+1%______0100", "12", "+1555"} {
		if _, _, err := treasury.ParsePhoneQuery(bad); donation.KindOf(err) != donation.Invalid {
			t.Errorf("ParsePhoneQuery(%q): %v, want an invalid error", bad, err)
		}
	}
}
