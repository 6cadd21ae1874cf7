package main

import (
	"context"
	"fmt"

	"github.com/shortcode/shortcode/storage"
)

// migrateCommand is `shortcode migrate`: with serve, the only command that
// creates or migrates a database.
type migrateCommand struct {
	DB string `default:"shortcode.db" placeholder:"DSN" help:"Database: a SQLite file path (created if missing), or a postgres:// URL."`
}

func (c *migrateCommand) Run(ctx context.Context, s *stdio) error {
	db, err := storage.Open(ctx, c.DB)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := db.Migrate(ctx); err != nil {
		return err
	}
	fmt.Fprintf(s.out, "migrated %s (%s)\n", redact(c.DB), db.Driver())
	return nil
}
