package main

import (
	"context"
	"fmt"
	"io"

	"github.com/shortcode/shortcode/storage"
)

func runMigrate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("migrate", stderr)
	var dsn string
	stringFlag(fs, &dsn, "db", "shortcode.db", "database: a SQLite file path, or a postgres:// URL")
	if err := fs.Parse(args); err != nil {
		return err
	}
	db, err := storage.Open(ctx, dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := db.Migrate(ctx); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "migrated %s (%s)\n", redact(dsn), db.Driver())
	return nil
}
