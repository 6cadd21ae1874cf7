package storage_test

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"github.com/shortcode/shortcode/compliance"
	"github.com/shortcode/shortcode/storage"
	"github.com/shortcode/shortcode/storage/storagetest"
)

// TestProgramCacheAcrossServers: on PostgreSQL each server caches the
// programs of a short code; a change made through another server (another
// storage.DB on the same database) is seen within moments, its own at
// once, and a change made while a server's listener is cut off is seen
// too, not hidden by what it cached before.
func TestProgramCacheAcrossServers(t *testing.T) {
	ctx := context.Background()
	dsn := storagetest.DSN(t, storage.Postgres)
	open := func() *storage.DB {
		db, err := storage.Open(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		if err := db.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		return db
	}
	a, b := open(), open()
	p := compliance.DemoProgram("https://sc.example")
	if err := a.SaveProgram(ctx, p); err != nil {
		t.Fatal(err)
	}
	active := func(db *storage.DB) bool {
		t.Helper()
		ps, err := db.Programs(ctx, p.ShortCode)
		if err != nil || len(ps) != 1 {
			t.Fatalf("Programs = %v, %v", ps, err)
		}
		return ps[0].Active
	}
	eventually := func(what string, db *storage.DB, want bool) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for active(db) != want {
			if time.Now().After(deadline) {
				t.Fatalf("%s: still active=%v after 5 s", what, !want)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	save := func(db *storage.DB, on bool) {
		t.Helper()
		p.Active = on
		if err := db.SaveProgram(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	eventually("b's first read", b, true) // now cached on both
	active(a)

	save(a, false)
	if active(a) {
		t.Fatal("a does not see its own change at once")
	}
	eventually("b after a deactivated", b, false)

	save(b, true)
	if !active(b) {
		t.Fatal("b does not see its own change at once")
	}
	eventually("a after b activated", a, true)

	// Cut every listener off; a change made meanwhile must still be seen.
	admin, err := sql.Open("postgres", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	var cut int
	if err := admin.QueryRow(`SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE application_name = 'shortcode-programs-listener' AND datname = current_database()`).Scan(&cut); err != nil || cut != 2 {
		t.Fatalf("listeners terminated: %d, %v; want 2", cut, err)
	}
	save(b, false)
	eventually("a after its listener was cut and b deactivated", a, false)
	save(b, true)
	eventually("a after its listener came back and b activated", a, true)
}
