package storage

import (
	"context"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/shortcode/shortcode/donation/auth"
)

type tokenRow struct {
	ID        string `db:"id"`
	Name      string `db:"name"`
	Role      string `db:"role"`
	CreatedAt stamp  `db:"created_at"`
	RevokedAt stamp  `db:"revoked_at"`
}

func (r tokenRow) token() auth.Token {
	return auth.Token{ID: r.ID, Name: r.Name, Role: auth.Role(r.Role),
		CreatedAt: time.Time(r.CreatedAt), RevokedAt: time.Time(r.RevokedAt)}
}

const tokenColumns = `id, name, role, created_at, revoked_at`

// CreateToken stores a token by the hash of its secret, and logs the
// action as actor in the same transaction.
func (db *DB) CreateToken(ctx context.Context, t auth.Token, hash, actor string) error {
	return db.inTx(ctx, "", func(tx *sqlx.Tx) error {
		_, err := tx.ExecContext(ctx, tx.Rebind(`INSERT INTO api_tokens (id, name, role, hash, created_at) VALUES (?, ?, ?, ?, ?)`),
			t.ID, t.Name, string(t.Role), hash, stamp(t.CreatedAt))
		if err != nil {
			return fmt.Errorf("create token %s: %w", t.ID, err)
		}
		return logAction(ctx, tx, t.CreatedAt, actor, "token.create", fmt.Sprintf("%s %q role %s", t.ID, t.Name, t.Role))
	})
}

// TokenByHash returns the token whose secret hashes to hash, revoked or
// not, or an error wrapping donation.ErrNotFound.
func (db *DB) TokenByHash(ctx context.Context, hash string) (auth.Token, error) {
	var r tokenRow
	err := db.db.GetContext(ctx, &r, db.rebind(`SELECT `+tokenColumns+` FROM api_tokens WHERE hash = ?`), hash)
	if err != nil {
		return auth.Token{}, fmt.Errorf("token: %w", notFound(err))
	}
	return r.token(), nil
}

// Tokens returns every token, oldest first.
func (db *DB) Tokens(ctx context.Context) ([]auth.Token, error) {
	var rows []tokenRow
	if err := db.db.SelectContext(ctx, &rows, `SELECT `+tokenColumns+` FROM api_tokens ORDER BY created_at, id`); err != nil {
		return nil, fmt.Errorf("tokens: %w", err)
	}
	out := make([]auth.Token, 0, len(rows))
	for _, r := range rows {
		out = append(out, r.token())
	}
	return out, nil
}

// RevokeToken revokes the token with id at at, logging the action as actor
// in the same transaction, and returns it. Revoking a revoked token
// changes nothing; an unknown id is an error wrapping donation.ErrNotFound.
func (db *DB) RevokeToken(ctx context.Context, id string, at time.Time, actor string) (auth.Token, error) {
	var t auth.Token
	err := db.inTx(ctx, "", func(tx *sqlx.Tx) error {
		var r tokenRow
		if err := tx.GetContext(ctx, &r, tx.Rebind(`SELECT `+tokenColumns+` FROM api_tokens WHERE id = ?`), id); err != nil {
			return fmt.Errorf("token %s: %w", id, notFound(err))
		}
		t = r.token()
		if !t.Active() {
			return nil
		}
		t.RevokedAt = at.UTC()
		if _, err := tx.ExecContext(ctx, tx.Rebind(`UPDATE api_tokens SET revoked_at = ? WHERE id = ?`), stamp(at), id); err != nil {
			return fmt.Errorf("revoke token %s: %w", id, err)
		}
		return logAction(ctx, tx, at, actor, "token.revoke", fmt.Sprintf("%s %q", t.ID, t.Name))
	})
	return t, err
}
