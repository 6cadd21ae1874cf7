// Package storage is the durable state of shortcode: one sqlx store over two
// drivers, SQLite (modernc.org/sqlite, the embedded default) and PostgreSQL
// (github.com/lib/pq), with one schema that runs unchanged on both.
//
// *DB implements donation.Store and donation.Outbox, and DB.Treasury
// treasury.Store. Every change goes through one transaction helper; every
// change for one phone number serialises on that number across servers: a
// row lock on PostgreSQL, BEGIN IMMEDIATE on SQLite.
//
// Times are stored as TEXT in fixed-width UTC
// (2006-01-02T15:04:05.000000000Z), so they sort as text; the zero time is
// NULL. Ids are generated in Go.
package storage

import (
	"context"
	"crypto/rand"
	"database/sql"
	"database/sql/driver"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq" // also registers "postgres"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
	"modernc.org/sqlite"

	"github.com/shortcode/shortcode/donation"
)

// Driver names, as Driver reports them.
const (
	SQLite   = "sqlite"
	Postgres = "postgres"
)

// sqlitePragmas are appended to every SQLite path: wait for a writer instead
// of failing, write-ahead logging, enforced foreign keys, and transactions
// that take the write lock at BEGIN (so Update serialises).
const sqlitePragmas = "_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)&_txlock=immediate"

//go:embed migrations/*.sql
var migrations embed.FS

var (
	_ donation.Store  = (*DB)(nil)
	_ donation.Outbox = (*DB)(nil)
	_ donation.Tx     = (*tx)(nil)
)

// ErrKeywordTaken is returned (wrapped) by SaveProgram when a keyword of the
// program is already mapped to another program on the same short code.
var ErrKeywordTaken = donation.NewError(donation.Conflict, "keyword already taken on this short code")

// withOneRoundTrip turns on lib/pq's binary_parameters unless the DSN sets
// it: a statement with arguments then goes to the server in one round trip
// (parse, bind and execute together) instead of two, which nearly halves
// the time an MO's transaction holds its number's lock.
func withOneRoundTrip(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return dsn // lib/pq reports the DSN's error
	}
	q := u.Query()
	if q.Has("binary_parameters") {
		return dsn
	}
	q.Set("binary_parameters", "yes")
	u.RawQuery = q.Encode()
	return u.String()
}

// withoutSeqScans adds enable_seqscan=off to the options the DSN gives
// the server's sessions. Every statement of the store reads through an
// index; with sequential scans priced out, the generic plan PostgreSQL
// gives a kept statement uses one even when it is made while a table is
// young (nearly empty), where a sequential scan looks cheapest and would
// stay as the table grows (cachingConnector, docs/performance.md).
func withoutSeqScans(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return dsn // lib/pq reports the DSN's error
	}
	q := u.Query()
	q.Set("options", strings.TrimSpace(q.Get("options")+" -c enable_seqscan=off"))
	u.RawQuery = q.Encode()
	return u.String()
}

// DB is a shortcode database, SQLite or PostgreSQL.
type DB struct {
	db       *sqlx.DB
	driver   string
	programs *programCache // PostgreSQL only: SQLite reads cost no round trip
}

// Open connects to a database without migrating it (see Migrate). A dsn
// starting with postgres:// or postgresql:// opens PostgreSQL; anything else
// is the path of a SQLite file, created if missing.
func Open(ctx context.Context, dsn string) (*DB, error) {
	var (
		db  *sqlx.DB
		err error
	)
	name := Postgres
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		// Each connection keeps its statements prepared, planned once
		// without sequential scans (see cachingConnector).
		var pc *pq.Connector
		pc, err = pq.NewConnector(withoutSeqScans(withOneRoundTrip(dsn)))
		if err == nil {
			db = sqlx.NewDb(sql.OpenDB(&cachingConnector{open: pc.Connect, driver: pc.Driver()}), Postgres)
			// Bound the connections so that a burst waits for one instead
			// of exhausting the server's (no code path holds two at once),
			// and keep them all open through it: a connection closed for
			// want of an idle slot costs a new server process to replace.
			db.SetMaxOpenConns(32)
			db.SetMaxIdleConns(32)
			db.SetConnMaxIdleTime(5 * time.Minute)
		}
	} else {
		name = SQLite
		if dsn == "" {
			return nil, errors.New("open database: empty path")
		}
		sep := "?"
		if strings.Contains(dsn, "?") {
			sep = "&"
		}
		drv, file := &sqlite.Driver{}, dsn+sep+sqlitePragmas
		open := func(context.Context) (driver.Conn, error) { return drv.Open(file) }
		db = sqlx.NewDb(sql.OpenDB(&cachingConnector{open: open, driver: drv}), SQLite)
		// SQLite has one writer at a time anyway; one connection also
		// keeps in-process writers from spinning on busy_timeout.
		db.SetMaxOpenConns(1)
	}
	if err != nil {
		return nil, fmt.Errorf("open %s database: %w", name, err)
	}
	if err := db.PingContext(ctx); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("open %s database: %w", name, err)
	}
	d := &DB{db: db, driver: name}
	if name == Postgres {
		d.programs = newProgramCache(withOneRoundTrip(dsn))
	}
	return d, nil
}

// Driver returns "sqlite" or "postgres".
func (db *DB) Driver() string { return db.driver }

// Close closes the database.
func (db *DB) Close() error {
	if db.programs != nil {
		db.programs.close()
	}
	return db.db.Close()
}

// Migrate brings the schema up to date; it is a no-op on an up-to-date
// database. On PostgreSQL a session advisory lock makes concurrent Migrate
// calls from several processes safe.
func (db *DB) Migrate(ctx context.Context) error {
	p, err := db.migrations()
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("migrate %s database: %w", db.driver, err)
	}
	return nil
}

// Ready reports whether the database answers and its schema is up to
// date: what a server needs to do its work.
func (db *DB) Ready(ctx context.Context) error {
	if err := db.db.PingContext(ctx); err != nil {
		return fmt.Errorf("%s database: %w", db.driver, err)
	}
	p, err := db.migrations()
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	pending, err := p.HasPending(ctx)
	if err != nil {
		return fmt.Errorf("%s database: migrations: %w", db.driver, err)
	}
	if pending {
		return fmt.Errorf("%s database: migrations pending (run shortcode migrate)", db.driver)
	}
	return nil
}

// migrations returns the goose provider of the embedded migrations.
func (db *DB) migrations() (*goose.Provider, error) {
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return nil, err
	}
	dialect := goose.DialectSQLite3
	opts := []goose.ProviderOption{goose.WithGoMigrations(appendOnlyMigration(db.driver), cosignaturesMigration(db.driver))}
	if db.driver == Postgres {
		dialect = goose.DialectPostgres
		locker, err := lock.NewPostgresSessionLocker(lock.WithLockTimeout(1, 300))
		if err != nil {
			return nil, err
		}
		opts = append(opts, goose.WithSessionLocker(locker))
	}
	return goose.NewProvider(dialect, db.db.DB, sub, opts...)
}

// timeLayout is fixed-width so that stored times sort as text.
const timeLayout = "2006-01-02T15:04:05.000000000Z"

// stamp is a time stored as fixed-width UTC TEXT; the zero time is NULL.
type stamp time.Time

// Value implements driver.Valuer.
func (s stamp) Value() (driver.Value, error) {
	t := time.Time(s)
	if t.IsZero() {
		return nil, nil
	}
	return t.UTC().Format(timeLayout), nil
}

// Scan implements sql.Scanner.
func (s *stamp) Scan(src any) error {
	var text string
	switch v := src.(type) {
	case nil:
		*s = stamp{}
		return nil
	case string:
		text = v
	case []byte:
		text = string(v)
	case time.Time:
		*s = stamp(v.UTC())
		return nil
	default:
		return fmt.Errorf("scan time: unexpected %T", src)
	}
	t, err := time.Parse(timeLayout, text)
	if err != nil {
		return fmt.Errorf("scan time: %w", err)
	}
	*s = stamp(t)
	return nil
}

// randomHex returns n random bytes as hex.
func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return hex.EncodeToString(b)
}

// orderedID returns an id that sorts by nanos (Unix nanoseconds, 20
// digits), then index, with 64 random bits against collisions: ids made at
// one instant (a clock standing still, a test's fixed clock) differ only
// by them, and 24 bits made 3,000 MTs collide one run in four
// (TestIDsAtOneInstant, BenchmarkHandleMO).
func orderedID(nanos int64, index int) string {
	return fmt.Sprintf("%020d-%03d-%s", nanos, index, randomHex(8))
}

// nanosOf is t in Unix nanoseconds, or now for the zero time.
func nanosOf(t time.Time) int64 {
	if t.IsZero() {
		t = time.Now()
	}
	return t.UnixNano()
}

// notFound wraps donation.ErrNotFound when err is sql.ErrNoRows.
func notFound(err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return donation.ErrNotFound
	}
	return err
}

// rebind rewrites ? placeholders for the driver.
func (db *DB) rebind(q string) string { return db.db.Rebind(q) }

// Secret returns the server secret called name, making it (size random
// bytes) the first time it is asked for: every server of one database then
// shares it. Production deployments should configure their secrets
// instead, so that a copy of the database alone does not hold them.
func (db *DB) Secret(ctx context.Context, name string, size int) ([]byte, error) {
	b := make([]byte, size)
	if _, err := rand.Read(b); err != nil {
		return nil, fmt.Errorf("secret %s: %w", name, err)
	}
	_, err := db.db.ExecContext(ctx, db.rebind(`INSERT INTO server_secrets (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING`),
		name, hex.EncodeToString(b))
	if err != nil {
		return nil, fmt.Errorf("secret %s: %w", name, err)
	}
	var v string
	if err := db.db.GetContext(ctx, &v, db.rebind(`SELECT value FROM server_secrets WHERE name = ?`), name); err != nil {
		return nil, fmt.Errorf("secret %s: %w", name, err)
	}
	out, err := hex.DecodeString(v)
	if err != nil {
		return nil, fmt.Errorf("secret %s: stored value is not hex: %w", name, err)
	}
	return out, nil
}
