package httpserver

import (
	"context"
	"io"
	"net/http"
	"time"

	"github.com/gorilla/mux"

	"github.com/shortcode/shortcode/donation/auth"
)

// TokenStore keeps API tokens; storage.DB implements it.
type TokenStore interface {
	Tokens
	CreateToken(ctx context.Context, t auth.Token, hash, actor string) error
	Tokens(ctx context.Context) ([]auth.Token, error)
	RevokeToken(ctx context.Context, id string, at time.Time, actor string) (auth.Token, error)
}

// TokenJSON is a token as the API shows it: never its secret, but once.
type TokenJSON struct {
	ID        string     `json:"id"`
	Name      string     `json:"name"`
	Role      auth.Role  `json:"role"`
	CreatedAt time.Time  `json:"created_at"`
	RevokedAt *time.Time `json:"revoked_at"`
	// Secret is set only in the answer that made the token.
	Secret string `json:"secret,omitempty"`
}

// TokenView shows t.
func TokenView(t auth.Token) TokenJSON {
	j := TokenJSON{ID: t.ID, Name: t.Name, Role: t.Role, CreatedAt: t.CreatedAt}
	if !t.RevokedAt.IsZero() {
		at := t.RevokedAt
		j.RevokedAt = &at
	}
	return j
}

// TokenRoutes are the admin's token routes:
//
//	GET  /api/v1/tokens              list (admin)
//	POST /api/v1/tokens              {"name","role"} -> the token with its secret, once (admin)
//	POST /api/v1/tokens/{id}/revoke  revoke (admin)
func (s *Server) TokenRoutes(store TokenStore, now func() time.Time, rnd io.Reader) {
	admin := []auth.Role{auth.Admin}
	s.Route(http.MethodGet, "/api/v1/tokens", admin, func(w http.ResponseWriter, r *http.Request) error {
		ts, err := store.Tokens(r.Context())
		if err != nil {
			return err
		}
		out := make([]TokenJSON, 0, len(ts))
		for _, t := range ts {
			out = append(out, TokenView(t))
		}
		return WriteJSON(w, out)
	})
	s.Route(http.MethodPost, "/api/v1/tokens", admin, func(w http.ResponseWriter, r *http.Request) error {
		var in struct {
			Name string `json:"name"`
			Role string `json:"role"`
		}
		if err := DecodeJSON(r, &in); err != nil {
			return err
		}
		role, err := auth.ParseRole(in.Role)
		if err != nil {
			return err
		}
		t, secret, hash, err := auth.New(rnd, in.Name, role, now())
		if err != nil {
			return err
		}
		if err := store.CreateToken(r.Context(), t, hash, Actor(r.Context())); err != nil {
			return err
		}
		j := TokenView(t)
		j.Secret = secret
		return WriteCreated(w, j)
	})
	s.Route(http.MethodPost, "/api/v1/tokens/{id}/revoke", admin, func(w http.ResponseWriter, r *http.Request) error {
		t, err := store.RevokeToken(r.Context(), mux.Vars(r)["id"], now(), Actor(r.Context()))
		if err != nil {
			return err
		}
		return WriteJSON(w, TokenView(t))
	})
}
