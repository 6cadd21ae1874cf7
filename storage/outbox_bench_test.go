package storage_test

import (
	"context"
	"database/sql"
	"strconv"
	"testing"
	"time"

	"github.com/shortcode/shortcode/storage"
	"github.com/shortcode/shortcode/storage/storagetest"
)

// BenchmarkClaim claims 8 MTs at a time from an outbox where backlog MTs
// wait, one per number, behind 10 times as many sent ones. Each claim runs
// out before the next, so the same MTs are claimed again and the backlog
// stays: a claim's cost should not grow with it (PendingMTs reads the
// waiting MTs in id order, a page at a time).
func BenchmarkClaim(b *testing.B) {
	for _, driver := range storagetest.Drivers {
		for _, backlog := range []int{100, 10000} {
			b.Run(driver+"/backlog="+strconv.Itoa(backlog), func(b *testing.B) {
				db := outboxWithBacklog(b, driver, backlog)
				ctx := context.Background()
				now := t0
				b.ResetTimer()
				for range b.N {
					now = now.Add(2 * time.Second)
					mts, err := db.PendingMTs(ctx, now, 8, time.Second)
					if err != nil || len(mts) != 8 {
						b.Fatalf("claimed %d MTs: %v", len(mts), err)
					}
				}
			})
		}
	}
}

// outboxWithBacklog is a fresh store with n MTs waiting, due at t0, each
// to its own number, and 10n sent.
func outboxWithBacklog(b *testing.B, driver string, n int) *storage.DB {
	dsn := storagetest.DSN(b, driver)
	ctx := context.Background()
	db, err := storage.Open(ctx, dsn)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	if err := db.Migrate(ctx); err != nil {
		b.Fatal(err)
	}
	raw, err := sql.Open(driver, dsn)
	if err != nil {
		b.Fatal(err)
	}
	defer raw.Close()
	at := "'" + t0.Format(time.RFC3339Nano) + "'"
	series := `WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < ` + strconv.Itoa(11*n) + `) `
	_, err = raw.Exec(series + `INSERT INTO outbox (id, phone, short_code, body, donation_id, mo_id, status,
			attempts, last_error, created_at, next_attempt_at, kind)
		SELECT CAST(1772366400000000000 + i AS TEXT) || '-0', '+1' || CAST(3105550000 + i AS TEXT), '62262',
			'Reply YES to confirm', 'd' || CAST(i AS TEXT), '',
			CASE WHEN i > 10 * ` + strconv.Itoa(n) + ` THEN 'pending' ELSE 'sent' END, 0, '', ` + at + `, ` + at + `, ''
		FROM s`)
	if err != nil {
		b.Fatal(err)
	}
	if driver == storage.Postgres {
		if _, err := raw.Exec(`ANALYZE`); err != nil {
			b.Fatal(err)
		}
	}
	return db
}
