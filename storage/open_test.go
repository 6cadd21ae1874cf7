package storage_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shortcode/shortcode/storage"
)

func TestOpenExisting(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing.db")
	if _, err := storage.OpenExisting(ctx, missing); !errors.Is(err, storage.ErrNoDatabase) {
		t.Errorf("OpenExisting(missing) = %v, want ErrNoDatabase", err)
	}
	if _, err := os.Stat(missing); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("OpenExisting created %s (%v)", missing, err)
	}

	empty := filepath.Join(dir, "empty.db")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := storage.OpenExisting(ctx, empty); err == nil || !strings.Contains(err.Error(), "migrations pending") {
		t.Errorf("OpenExisting(unmigrated) = %v, want migrations pending", err)
	}

	migrated := filepath.Join(dir, "migrated.db")
	db, err := storage.Open(ctx, migrated)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	db.Close()
	db, err = storage.OpenExisting(ctx, migrated)
	if err != nil {
		t.Fatalf("OpenExisting(migrated) = %v", err)
	}
	db.Close()
}
