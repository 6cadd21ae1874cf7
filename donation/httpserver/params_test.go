package httpserver_test

import (
	"net/http/httptest"
	"testing"
	"time"

	"github.com/shortcode/shortcode/donation"
	"github.com/shortcode/shortcode/donation/httpserver"
)

func TestParseDuration(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"10d": 240 * time.Hour, "72h": 72 * time.Hour, "1d12h": 36 * time.Hour, "0": 0, "90m": 90 * time.Minute, "366d": 366 * 24 * time.Hour,
	} {
		if got, err := httpserver.ParseDuration("within", in); err != nil || got != want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "-1d", "-1h", "1d-2h", "367d", "1000d", "d", "10x", "1.5d", "10 d", "9999999999999h"} {
		if _, err := httpserver.ParseDuration("within", bad); donation.KindOf(err) != donation.Invalid {
			t.Errorf("ParseDuration(%q): %v, want an invalid error", bad, err)
		}
	}
}

func TestQuery(t *testing.T) {
	for _, tt := range []struct {
		query string
		ok    bool
	}{
		{"", true},
		{"committee=C99999999&within=10d", true},
		{"committee=", true},
		{"comittee=C99999999", false},
		{"committee=a&committee=b", false},
		{"committee=%zz", false},
	} {
		r := httptest.NewRequest("GET", "/x?"+tt.query, nil)
		_, err := httpserver.Query(r, "committee", "within")
		if (err == nil) != tt.ok || (err != nil && donation.KindOf(err) != donation.Invalid) {
			t.Errorf("Query(%q): %v, want ok %v", tt.query, err, tt.ok)
		}
	}
}
