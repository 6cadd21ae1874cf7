package storage_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/shortcode/shortcode/donation"
	"github.com/shortcode/shortcode/donation/auth"
	"github.com/shortcode/shortcode/storage"
	"github.com/shortcode/shortcode/storage/storagetest"
)

// TestTokens: only a token's hash is stored; revoking is logged in the
// same transaction and changes nothing the second time.
func TestTokens(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		tok, secret, hash, err := auth.New(nil, "ops", auth.Treasurer, t0)
		if err != nil {
			t.Fatal(err)
		}
		if err := db.CreateToken(ctx, tok, hash, "local"); err != nil {
			t.Fatal(err)
		}
		got, err := db.TokenByHash(ctx, auth.Hash(secret))
		if err != nil || got.ID != tok.ID || got.Role != auth.Treasurer || !got.Active() {
			t.Fatalf("TokenByHash = %+v, %v", got, err)
		}
		if _, err := db.TokenByHash(ctx, auth.Hash(secret+"x")); !errors.Is(err, donation.ErrNotFound) {
			t.Errorf("unknown hash: %v, want ErrNotFound", err)
		}
		revoked := t0.Add(time.Hour)
		at := revoked
		for range 2 {
			r, err := db.RevokeToken(ctx, tok.ID, at, "admin")
			if err != nil || !r.RevokedAt.Equal(revoked) {
				t.Fatalf("RevokeToken at %v = %+v, %v; want revoked at %v", at, r, err, revoked)
			}
			at = at.Add(time.Hour)
		}
		if _, err := db.RevokeToken(ctx, "tok_nosuch", at, "admin"); !errors.Is(err, donation.ErrNotFound) {
			t.Errorf("revoke unknown: %v", err)
		}
		all, err := db.Tokens(ctx)
		if err != nil || len(all) != 1 || all[0].Active() {
			t.Errorf("Tokens = %+v, %v", all, err)
		}
		acts, err := db.Actions(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var kinds []string
		for _, a := range acts {
			kinds = append(kinds, a.Action)
		}
		if len(kinds) != 2 || kinds[0] != "token.create" || kinds[1] != "token.revoke" {
			t.Errorf("actions = %v, want token.create then one token.revoke", kinds)
		}
	})
}
