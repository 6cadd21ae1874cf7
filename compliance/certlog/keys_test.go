package certlog_test

import (
	"crypto/rand"
	"testing"

	"golang.org/x/mod/sumdb/note"

	"github.com/shortcode/shortcode/compliance/certlog"
)

func TestVerifierKey(t *testing.T) {
	skey, vkey, err := note.GenerateKey(rand.Reader, "sc.example/log")
	if err != nil {
		t.Fatal(err)
	}
	got, err := certlog.VerifierKey(skey)
	if err != nil || got != vkey {
		t.Errorf("VerifierKey = %q, %v; want %q", got, err, vkey)
	}
	for _, bad := range []string{"", vkey, "PRIVATE+KEY+x+1+AAAA", skey[:len(skey)-4]} {
		if _, err := certlog.VerifierKey(bad); err == nil {
			t.Errorf("VerifierKey(%q): no error", bad)
		}
	}
}
