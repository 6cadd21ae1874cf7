package auth_test

import (
	"strings"
	"testing"
	"time"

	"github.com/shortcode/shortcode/donation"
	"github.com/shortcode/shortcode/donation/auth"
)

func TestNew(t *testing.T) {
	now := time.Date(2027, 1, 2, 3, 4, 5, 0, time.FixedZone("EST", -5*3600))
	tok, secret, hash, err := auth.New(nil, " ci ", auth.Auditor, now)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(secret, auth.Prefix) || !auth.LooksLike(secret) || len(secret) != 35 {
		t.Errorf("secret %q: want sc_ and 32 base32 characters (160 bits)", secret)
	}
	if hash != auth.Hash(secret) || strings.Contains(hash, secret) || len(hash) != 64 {
		t.Errorf("hash %q of %q", hash, secret)
	}
	if tok.Name != "ci" || tok.Role != auth.Auditor || tok.CreatedAt.Location() != time.UTC || !strings.HasPrefix(tok.ID, "tok_") || !tok.Active() {
		t.Errorf("token = %+v", tok)
	}
	_, other, _, _ := auth.New(nil, "ci", auth.Auditor, now)
	if other == secret {
		t.Error("two tokens share a secret")
	}
	for _, bad := range []struct {
		name string
		role auth.Role
	}{{"", auth.Admin}, {strings.Repeat("x", 101), auth.Admin}, {"ok", "root"}} {
		if _, _, _, err := auth.New(nil, bad.name, bad.role, now); donation.KindOf(err) != donation.Invalid {
			t.Errorf("New(%q, %q) = %v, want an Invalid error", bad.name, bad.role, err)
		}
	}
}

func TestLooksLike(t *testing.T) {
	for s, want := range map[string]bool{
		"sc_" + strings.Repeat("a", 32): true,
		"sc_" + strings.Repeat("a", 31): false,
		"sk_" + strings.Repeat("a", 32): false,
		"sc_" + strings.Repeat("1", 32): false, // 1 is not base32
		"":                              false,
	} {
		if got := auth.LooksLike(s); got != want {
			t.Errorf("LooksLike(%q) = %v", s, got)
		}
	}
}

func TestParseRole(t *testing.T) {
	if r, err := auth.ParseRole(" Treasurer "); err != nil || r != auth.Treasurer {
		t.Errorf("ParseRole = %q, %v", r, err)
	}
	if _, err := auth.ParseRole("owner"); donation.KindOf(err) != donation.Invalid {
		t.Errorf("ParseRole(owner) = %v", err)
	}
}
