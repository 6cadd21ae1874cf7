package main

import (
	"context"
	"fmt"
	"net/url"
	"time"

	"github.com/shortcode/shortcode/cmd/shortcode/internal/client"
	"github.com/shortcode/shortcode/donation/auth"
	"github.com/shortcode/shortcode/donation/httpserver"
	"github.com/shortcode/shortcode/storage"
)

// tokenCommand is `shortcode token`. With --db it works on the database itself
// (how the first admin token is made: it needs no token, and allows any
// role); without, through the API at --server with an admin --token.
type tokenCommand struct {
	Create tokenCreateCommand `cmd:"" help:"Make a token; its secret is printed once."`
	List   tokenListCommand   `cmd:"" help:"List the tokens (never their secrets)."`
	Revoke tokenRevokeCommand `cmd:"" help:"Revoke a token; revoking again changes nothing."`
}

func (tokenCommand) Help() string {
	return `With --db (or SHORTCODE_DB) the token commands work on that database directly, as "local:USER" in the action log: this is how the first admin token is made. Without --db they go through the API at --server, with an admin --token.`
}

// tokenTarget is where the token commands work: a database, or a server.
type tokenTarget struct {
	DB       string `placeholder:"DSN" help:"Work on this database directly (a SQLite file or a postgres:// URL; it must exist and be migrated), instead of through the API."`
	apiFlags `embed:""`
}

// open returns the database, or nil and the client.
func (t *tokenTarget) open(ctx context.Context, path string) (*storage.DB, *client.Client, error) {
	if t.DB != "" {
		if t.Token != "" {
			return nil, nil, usagef(path, "--db works on the database directly and --token goes through the API: give one of them")
		}
		db, err := openLocal(ctx, t.DB)
		return db, nil, err
	}
	if t.Token == "" {
		return nil, nil, usagef(path, "give --db DSN to work on a database directly, or --token (or SHORTCODE_TOKEN) with an admin token to go through the API at %s", t.Server)
	}
	c, err := t.client(path)
	return nil, c, err
}

type tokenCreateCommand struct {
	Role string `required:"" enum:"admin,treasurer,auditor" help:"What the token may do: admin (programs, tokens), treasurer (money), auditor (read only)."`
	Name string `required:"" help:"What the token is for, e.g. a person or a system."`
	JSON bool   `name:"json" help:"Print the token, with its secret, as JSON."`
	tokenTarget
}

func (c *tokenCreateCommand) Run(ctx context.Context, s *stdio) error {
	db, api, err := c.open(ctx, "token create")
	if err != nil {
		return err
	}
	var tok httpserver.TokenJSON
	if db != nil {
		defer db.Close()
		role, err := auth.ParseRole(c.Role)
		if err != nil {
			return err
		}
		t, secret, hash, err := auth.New(nil, c.Name, role, time.Now())
		if err != nil {
			return err
		}
		if err := db.CreateToken(ctx, t, hash, localActor()); err != nil {
			return err
		}
		tok = httpserver.TokenView(t)
		tok.Secret = secret
	} else if err := api.Post(ctx, "/api/v1/tokens", map[string]string{"name": c.Name, "role": c.Role}, &tok); err != nil {
		return err
	}
	if c.JSON {
		return writeJSON(s.out, tok)
	}
	// The secret alone on stdout, so that it can be captured:
	// export SHORTCODE_TOKEN=$(shortcode token create ...).
	fmt.Fprintln(s.out, tok.Secret)
	fmt.Fprintf(s.err, "made %s token %s (%s). Keep its secret safe: it is shown only now, and only its hash is stored.\n", tok.Role, tok.ID, tok.Name)
	return nil
}

type tokenListCommand struct {
	JSON bool `name:"json" help:"Print JSON: id, name, role, created_at, revoked_at (null while valid)."`
	tokenTarget
}

func (c *tokenListCommand) Run(ctx context.Context, s *stdio) error {
	db, api, err := c.open(ctx, "token list")
	if err != nil {
		return err
	}
	toks := []httpserver.TokenJSON{}
	if db != nil {
		defer db.Close()
		ts, err := db.Tokens(ctx)
		if err != nil {
			return err
		}
		for _, t := range ts {
			toks = append(toks, httpserver.TokenView(t))
		}
	} else if err := api.Get(ctx, "/api/v1/tokens", nil, &toks); err != nil {
		return err
	}
	if c.JSON {
		return writeJSON(s.out, toks)
	}
	t := newTable("TOKEN", "NAME", "ROLE", "CREATED", "REVOKED")
	for _, tok := range toks {
		revoked := ""
		if tok.RevokedAt != nil {
			revoked = stamp(*tok.RevokedAt)
		}
		t.add(tok.ID, tok.Name, tok.Role, stamp(tok.CreatedAt), revoked)
	}
	return t.write(s.out)
}

type tokenRevokeCommand struct {
	ID   string `arg:"" help:"The token's id, tok_..."`
	JSON bool   `name:"json" help:"Print the revoked token as JSON."`
	tokenTarget
}

func (c *tokenRevokeCommand) Run(ctx context.Context, s *stdio) error {
	db, api, err := c.open(ctx, "token revoke")
	if err != nil {
		return err
	}
	var tok httpserver.TokenJSON
	if db != nil {
		defer db.Close()
		t, err := db.RevokeToken(ctx, c.ID, time.Now(), localActor())
		if err != nil {
			return err
		}
		tok = httpserver.TokenView(t)
	} else if err := api.Post(ctx, "/api/v1/tokens/"+url.PathEscape(c.ID)+"/revoke", nil, &tok); err != nil {
		return err
	}
	if c.JSON {
		return writeJSON(s.out, tok)
	}
	fmt.Fprintf(s.out, "revoked %s (%s, %s) at %s\n", tok.ID, tok.Name, tok.Role, stamp(*tok.RevokedAt))
	return nil
}
