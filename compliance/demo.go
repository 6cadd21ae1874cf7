package compliance

import (
	"strings"
	"time"
)

// DefaultBaseURL is where a local `shortcode serve` listens.
const DefaultBaseURL = "http://127.0.0.1:8080"

// DemoProgram returns the built-in demo program of SPEC §3 (committee
// C99999999, short code 62262, keyword GIVE), whose pages live under
// baseURL (DefaultBaseURL when empty). Texts print URLs without the scheme,
// so TermsURL is e.g. "127.0.0.1:8080/t/demo" and DonationURL
// "127.0.0.1:8080/d/". The result passes Validate for a host (with port
// and path) of up to 22 characters; the confirmation text has no room for
// more.
func DemoProgram(baseURL string) Program {
	host := textHost(baseURL)
	if host == "" {
		host = textHost(DefaultBaseURL)
	}
	return Program{
		ID:        "demo",
		ShortCode: "62262",
		Keywords:  []string{"GIVE"},
		Committee: Committee{
			ID:           "C99999999",
			Type:         Candidate,
			Name:         "Demo Committee for Testing",
			DisplayName:  "Demo PAC",
			PaidFor:      "Demo Committee for Testing",
			Care:         "support@example.org",
			GoodStanding: true,
		},
		PricePoints:   []int64{500, 1000, 1500, 2000},
		Limits:        DefaultLimits,
		Templates:     DefaultTemplates,
		TermsURL:      host + "/t/demo",
		DonationURL:   host + "/d/",
		ConfirmExpiry: 60 * time.Minute,
		PINExpiry:     10 * time.Minute,
		Mode:          Combined,
		MaxPINTries:   3,
		MaxReprompts:  2,
		Active:        true,
	}
}

// textHost is baseURL as printed in texts: without scheme or trailing
// slash ("https://sc.example/" -> "sc.example").
func textHost(baseURL string) string {
	s := strings.TrimSpace(baseURL)
	if i := strings.Index(s, "://"); i >= 0 {
		s = s[i+3:]
	}
	return strings.TrimRight(s, "/")
}
