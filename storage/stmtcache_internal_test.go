package storage

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"path/filepath"
	"testing"

	"modernc.org/sqlite"
)

// countingConn counts the statements SQLite is asked to prepare.
type countingConn struct {
	innerConn
	prepares *int
}

func (c countingConn) PrepareContext(ctx context.Context, q string) (driver.Stmt, error) {
	*c.prepares++
	return c.innerConn.PrepareContext(ctx, q)
}

// TestStatementKeptOnce: a text run many times with arguments is prepared
// once per connection; one run while its own rows are still open is
// prepared once more, for that call only.
func TestStatementKeptOnce(t *testing.T) {
	prepares := 0
	drv, file := &sqlite.Driver{}, filepath.Join(t.TempDir(), "kept.db")
	open := func(context.Context) (driver.Conn, error) {
		c, err := drv.Open(file)
		if err != nil {
			return nil, err
		}
		return countingConn{innerConn: c.(innerConn), prepares: &prepares}, nil
	}
	pool := sql.OpenDB(&cachingConnector{open: open, driver: drv})
	defer pool.Close()
	ctx := context.Background()
	db, err := pool.Conn(ctx) // one connection, shared by the nested query
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, `CREATE TABLE t (a INTEGER)`); err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		if _, err := db.ExecContext(ctx, `INSERT INTO t VALUES (?)`, i); err != nil {
			t.Fatal(err)
		}
	}
	if prepares != 1 {
		t.Errorf("one INSERT run 10 times: %d prepares, want 1", prepares)
	}

	prepares = 0
	q := `SELECT a FROM t WHERE a >= ? ORDER BY a`
	rows, err := db.QueryContext(ctx, q, 8)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var n int
	for rows.Next() {
		var inner int
		if err := db.QueryRowContext(ctx, q, 9).Scan(&inner); err != nil || inner != 9 {
			t.Fatalf("inner: %d, %v", inner, err)
		}
		n++
	}
	if err := rows.Close(); err != nil || n != 2 {
		t.Fatalf("outer: %d rows, %v", n, err)
	}
	for range 5 {
		if err := db.QueryRowContext(ctx, q, 9).Scan(&n); err != nil {
			t.Fatal(err)
		}
	}
	if prepares != 3 {
		t.Errorf("a query kept, run again twice inside its own rows (each prepared for itself), then 5 times: %d prepares, want 3", prepares)
	}
}
