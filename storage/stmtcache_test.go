package storage_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/shortcode/shortcode/storage"
	"github.com/shortcode/shortcode/storage/storagetest"
)

// TestStatementCache: on SQLite a statement with arguments is prepared once
// per connection and then reused (TestStatementKeptOnce counts it);
// the same text run again while its rows are open, more texts than the
// cache holds, and a table changed under a kept statement all still give
// the right answers. PostgreSQL keeps none.
func TestStatementCache(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		c, rebind, err := db.ConnForTest(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		for _, q := range []string{`CREATE TABLE cache_probe (a INTEGER, b TEXT)`,
			`INSERT INTO cache_probe VALUES (1, 'one'), (2, 'two'), (3, 'three')`} {
			if _, err := c.ExecContext(ctx, q); err != nil {
				t.Fatal(err)
			}
		}
		count := rebind(`SELECT b FROM cache_probe WHERE a >= ? ORDER BY a`)

		// Nested (SQLite: lib/pq runs one query at a time on a connection):
		// the outer rows stay right while the same text runs inside.
		var got []string
		nested := db.Driver() == storage.SQLite
		rows, err := c.QueryxContext(ctx, count, 1)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()                 // before the connection, if a check fails
		for rows.Next() && len(got) < 10 { // a reset outer statement would start over
			var b string
			if err := rows.Scan(&b); err != nil {
				t.Fatal(err)
			}
			var inner []string
			if nested {
				if err := c.SelectContext(ctx, &inner, count, 3); err != nil {
					t.Fatal(err)
				}
			}
			got = append(got, b+"/"+fmt.Sprint(inner))
		}
		if err := rows.Close(); err != nil {
			t.Fatal(err)
		}
		want := "[one/[] two/[] three/[]]"
		if nested {
			want = "[one/[three] two/[three] three/[three]]"
		}
		if fmt.Sprint(got) != want {
			t.Errorf("nested: got %v, want %s", got, want)
		}
		for range 3 {
			var last []string
			if err := c.SelectContext(ctx, &last, count, 3); err != nil || fmt.Sprint(last) != "[three]" {
				t.Fatalf("again: %v, %v", last, err)
			}
		}

		if db.Driver() == storage.Postgres {
			// PostgreSQL keeps no statement (see cachingConnector): each
			// call is planned with its values.
			var prepared int
			if err := c.GetContext(ctx, &prepared, `SELECT count(*) FROM pg_prepared_statements`); err != nil {
				t.Fatal(err)
			}
			if prepared != 0 {
				t.Errorf("%d statements kept prepared on a PostgreSQL connection, want none", prepared)
			}
		}

		// More texts than the cache holds: each still answers for itself.
		for i := range 300 {
			var n int
			q := rebind(fmt.Sprintf(`SELECT count(*) + %d FROM cache_probe WHERE a >= ?`, i))
			if err := c.GetContext(ctx, &n, q, 2); err != nil {
				t.Fatal(err)
			}
			if n != i+2 {
				t.Fatalf("query %d: %d, want %d", i, n, i+2)
			}
		}

		// A column added under a kept statement: its rows have it.
		star := rebind(`SELECT * FROM cache_probe WHERE a = ?`)
		var before struct {
			A int
			B string
		}
		if err := c.GetContext(ctx, &before, star, 2); err != nil {
			t.Fatal(err)
		}
		if _, err := c.ExecContext(ctx, `ALTER TABLE cache_probe ADD COLUMN c INTEGER DEFAULT 7`); err != nil {
			t.Fatal(err)
		}
		var after struct {
			A, C int
			B    string
		}
		if err := c.GetContext(ctx, &after, star, 2); err != nil {
			t.Fatalf("after the change: %v", err)
		}
		if after.A != 2 || after.B != "two" || after.C != 7 {
			t.Errorf("after the change: %+v", after)
		}
	})
}
