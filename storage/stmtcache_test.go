package storage_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/lib/pq"

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
			// The statement is kept, in a session without sequential scans.
			var prepared int
			if err := c.GetContext(ctx, &prepared, `SELECT count(*) FROM pg_prepared_statements
				WHERE statement = 'SELECT b FROM cache_probe WHERE a >= $1 ORDER BY a'`); err != nil {
				t.Fatal(err)
			}
			var seqscan string
			if err := c.GetContext(ctx, &seqscan, `SHOW enable_seqscan`); err != nil {
				t.Fatal(err)
			}
			if prepared != 1 || seqscan != "off" {
				t.Errorf("PostgreSQL connection: %d statements kept for the query, enable_seqscan %s; want 1, off", prepared, seqscan)
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
		err = c.GetContext(ctx, &after, star, 2)
		if err != nil && db.Driver() == storage.Postgres {
			// PostgreSQL refuses the kept statement once; it is then
			// prepared again.
			t.Logf("after the change, once: %v", err)
			err = c.GetContext(ctx, &after, star, 2)
		}
		if err != nil {
			t.Fatalf("after the change: %v", err)
		}
		if after.A != 2 || after.B != "two" || after.C != 7 {
			t.Errorf("after the change: %+v", after)
		}
	})
}

// TestGenericPlansUseIndexes: a statement kept on PostgreSQL gets a generic
// plan after five calls, made for the table as its statistics say it is
// then. Made while the table is young (one page, analyzed), it still reads
// through the index once the table has grown 500 times (no ANALYZE in
// between), because the store's sessions price sequential scans out:
// otherwise it stays a sequential scan.
func TestGenericPlansUseIndexes(t *testing.T) {
	db := storagetest.Open(t, storage.Postgres)
	ctx := context.Background()
	c, _, err := db.ConnForTest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, q := range []string{`CREATE TABLE plan_probe (id INTEGER PRIMARY KEY, phone TEXT NOT NULL, n INTEGER NOT NULL)`,
		`CREATE INDEX plan_probe_phone ON plan_probe (phone)`,
		`INSERT INTO plan_probe SELECT i, '+1202555' || lpad(i::text, 4, '0'), i FROM generate_series(1, 100) AS i`,
		`ANALYZE plan_probe`} {
		if _, err := c.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	const probe = `SELECT n FROM plan_probe WHERE phone = $1`
	for range 10 {
		var ns []int
		if err := c.SelectContext(ctx, &ns, probe, "+12025550100"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.ExecContext(ctx, `INSERT INTO plan_probe
		SELECT i, '+1202555' || lpad((i % 5000)::text, 4, '0'), i FROM generate_series(101, 50000) AS i`); err != nil {
		t.Fatal(err)
	}
	var kept struct {
		Name    string `db:"name"`
		Generic int    `db:"generic_plans"`
	}
	if err := c.GetContext(ctx, &kept, `SELECT name, generic_plans FROM pg_prepared_statements WHERE statement = '`+probe+`'`); err != nil {
		t.Fatalf("the probe is not kept: %v", err)
	}
	if kept.Generic == 0 {
		t.Fatalf("the kept probe has no generic plan: %+v", kept)
	}
	var plan []string
	if err := c.SelectContext(ctx, &plan, `EXPLAIN EXECUTE `+pq.QuoteIdentifier(kept.Name)+`('+12025550100')`); err != nil {
		t.Fatal(err)
	}
	text := strings.Join(plan, "\n")
	t.Logf("the kept statement's plan, 50,000 rows later:\n%s", text)
	if strings.Contains(text, "Seq Scan") || !strings.Contains(text, "plan_probe_phone") {
		t.Errorf("the generic plan made on the empty table does not read through the index:\n%s", text)
	}
}
