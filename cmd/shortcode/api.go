package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/user"

	"github.com/shortcode/shortcode/cmd/shortcode/internal/client"
	"github.com/shortcode/shortcode/storage"
)

// apiFlags are the flags of every command that talks to a running server.
type apiFlags struct {
	Server string `default:"${server}" placeholder:"URL" help:"The shortcode server's URL."`
	Token  string `placeholder:"TOKEN" help:"API token (sc_...), from shortcode token create."`
}

// client returns a client of the server; path names the command in a
// usage error, e.g. "refund list".
func (f *apiFlags) client(path string) (*client.Client, error) {
	return f.clientWith(path, nil)
}

// clientWith is client with the HTTP client hc (nil for the default).
func (f *apiFlags) clientWith(path string, hc *http.Client) (*client.Client, error) {
	if f.Token == "" {
		return nil, usagef(path, "--token is required (or SHORTCODE_TOKEN): an API token, made with shortcode token create")
	}
	return f.newClient(path, hc)
}

// publicClient returns a client for the server's public routes, such as
// the log's checkpoint: the token is sent if there is one, not required.
func (f *apiFlags) publicClient(path string) (*client.Client, error) {
	return f.newClient(path, nil)
}

func (f *apiFlags) newClient(path string, hc *http.Client) (*client.Client, error) {
	c, err := client.New(f.Server, f.Token, hc)
	if err != nil {
		return nil, usagef(path, "--server: %v", err)
	}
	return c, nil
}

// localActor names the person running a local command in the action log:
// "local:" and the operating system's user.
func localActor() string {
	name := os.Getenv("USER")
	if u, err := user.Current(); err == nil && u.Username != "" {
		name = u.Username
	}
	if name == "" {
		name = "unknown"
	}
	return "local:" + name
}

// openLocal opens the database a local command (other than serve and
// migrate) works on: it must exist and be migrated, and is never created.
func openLocal(ctx context.Context, dsn string) (*storage.DB, error) {
	db, err := storage.OpenExisting(ctx, dsn)
	switch {
	case errors.Is(err, storage.ErrNoDatabase):
		return nil, fmt.Errorf("no database at %s: --db must name the database shortcode serve uses (only serve and migrate create one)", redact(dsn))
	case err != nil:
		return nil, fmt.Errorf("database %s: %w", redact(dsn), err)
	}
	return db, nil
}
