// Package auth is who may use the operator API: tokens with one role each
// (SPEC §11). A token's secret is shown once, when it is made; only its
// SHA-256 is stored, which is enough for a secret of 160 random bits.
package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/hex"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/shortcode/shortcode/donation"
)

// Role is what a token may do.
type Role string

// The roles of SPEC §11.
const (
	// Admin manages programs and tokens.
	Admin Role = "admin"
	// Treasurer runs refunds, settlement imports, forwarding and reports.
	Treasurer Role = "treasurer"
	// Auditor reads the certification log and the evidence, and changes
	// nothing.
	Auditor Role = "auditor"
)

// Roles are every role, in the order they are listed.
var Roles = []Role{Admin, Treasurer, Auditor}

// ParseRole returns the role named s.
func ParseRole(s string) (Role, error) {
	r := Role(strings.ToLower(strings.TrimSpace(s)))
	if !slices.Contains(Roles, r) {
		return "", fmt.Errorf("role %q: want admin, treasurer or auditor: %w", s, donation.ErrInvalid)
	}
	return r, nil
}

// Prefix starts every token, so that a leaked one is recognisable (and
// secret scanners can look for it).
const Prefix = "sc_"

// Token is an API token as stored: never its secret.
type Token struct {
	ID        string // public, e.g. "tok_3jz5…"; names the token in lists and logs
	Name      string // what it is for, chosen by its maker
	Role      Role
	CreatedAt time.Time
	RevokedAt time.Time // zero while the token is valid
}

// Active reports whether the token may still be used.
func (t Token) Active() bool { return t.RevokedAt.IsZero() }

var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

// New makes a token of role with name, from random source rnd (crypto/rand
// when nil), at now. It returns the token, its secret (to show once) and
// the secret's hash (to store).
func New(rnd io.Reader, name string, role Role, now time.Time) (Token, string, string, error) {
	name = strings.TrimSpace(name)
	if name == "" || len(name) > 100 {
		return Token{}, "", "", fmt.Errorf("token name %q: want 1 to 100 characters: %w", name, donation.ErrInvalid)
	}
	if _, err := ParseRole(string(role)); err != nil {
		return Token{}, "", "", err
	}
	if rnd == nil {
		rnd = rand.Reader
	}
	var id [10]byte
	var secret [20]byte
	if _, err := io.ReadFull(rnd, id[:]); err != nil {
		return Token{}, "", "", fmt.Errorf("token: %w", err)
	}
	if _, err := io.ReadFull(rnd, secret[:]); err != nil {
		return Token{}, "", "", fmt.Errorf("token: %w", err)
	}
	s := Prefix + strings.ToLower(b32.EncodeToString(secret[:]))
	t := Token{ID: "tok_" + strings.ToLower(b32.EncodeToString(id[:])), Name: name, Role: role, CreatedAt: now.UTC()}
	return t, s, Hash(s), nil
}

// Hash is what is stored of a secret: hex SHA-256.
func Hash(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// LooksLike reports whether s has the shape of a token secret, so that a
// request with something else is refused without a database read.
func LooksLike(s string) bool {
	if !strings.HasPrefix(s, Prefix) || len(s) != len(Prefix)+32 {
		return false
	}
	_, err := b32.DecodeString(strings.ToUpper(s[len(Prefix):]))
	return err == nil
}
