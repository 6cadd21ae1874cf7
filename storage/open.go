package storage

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/shortcode/shortcode/donation"
)

// ErrNoDatabase is returned (wrapped) by OpenExisting for a SQLite file
// that does not exist.
var ErrNoDatabase = donation.NewError(donation.NotFound, "no such database")

// OpenExisting is Open for a database that must already exist, with its
// migrations applied: a SQLite file that is missing is not created (the
// error wraps ErrNoDatabase), and a database with migrations pending is
// refused.
func OpenExisting(ctx context.Context, dsn string) (*DB, error) {
	if !isPostgres(dsn) {
		path := strings.TrimPrefix(dsn, "file:")
		path, _, _ = strings.Cut(path, "?")
		fi, err := os.Stat(path)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return nil, fmt.Errorf("%s: %w", dsn, ErrNoDatabase)
		case err != nil:
			return nil, fmt.Errorf("open sqlite database: %w", err)
		case fi.IsDir():
			return nil, fmt.Errorf("open sqlite database: %s is a directory", dsn)
		}
	}
	db, err := Open(ctx, dsn)
	if err != nil {
		return nil, err
	}
	if err := db.Ready(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// isPostgres reports whether dsn names a PostgreSQL database.
func isPostgres(dsn string) bool {
	return strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://")
}
