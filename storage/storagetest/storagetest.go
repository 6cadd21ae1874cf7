// Package storagetest gives tests a fresh, migrated storage.DB on each
// driver: SQLite in a temporary directory, and PostgreSQL when
// SHORTCODE_TEST_POSTGRES holds a server URL (e.g.
// postgres://postgres@127.0.0.1:5433/postgres?sslmode=disable), in a new
// database that is dropped afterwards. Without that variable the PostgreSQL
// variants are skipped, unless SHORTCODE_REQUIRE_POSTGRES=1, which makes them
// fail instead.
package storagetest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	_ "github.com/lib/pq" // registers "postgres"

	"golang.org/x/mod/sumdb/note"

	"github.com/shortcode/shortcode/donation/auditlog"
	"github.com/shortcode/shortcode/storage"
)

// Environment variables read by this package.
const (
	EnvPostgres        = "SHORTCODE_TEST_POSTGRES"
	EnvRequirePostgres = "SHORTCODE_REQUIRE_POSTGRES"
)

// Drivers are the drivers Each runs a test on.
var Drivers = []string{storage.SQLite, storage.Postgres}

// Each runs fn as a subtest per driver ("sqlite", "postgres"), each with its
// own fresh migrated database.
func Each(t *testing.T, fn func(t *testing.T, db *storage.DB)) {
	t.Helper()
	for _, driver := range Drivers {
		t.Run(driver, func(t *testing.T) {
			fn(t, Open(t, driver))
		})
	}
}

// Open returns a fresh migrated database of the driver, closed (and on
// PostgreSQL dropped) when the test ends.
func Open(t testing.TB, driver string) *storage.DB {
	t.Helper()
	return openDSN(t, driver, DSN(t, driver))
}

func openDSN(t testing.TB, driver, dsn string) *storage.DB {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	db, err := storage.Open(ctx, dsn)
	if err != nil {
		t.Fatalf("open %s: %v", driver, err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Errorf("close %s: %v", driver, err)
		}
	})
	if err := db.Migrate(ctx); err != nil {
		t.Fatalf("migrate %s: %v", driver, err)
	}
	return db
}

// DSN returns the address of a fresh, empty (not migrated) database of the
// driver for storage.Open: a file in t.TempDir() for SQLite, a new database
// on the server of SHORTCODE_TEST_POSTGRES for PostgreSQL, dropped when the
// test ends. It skips or fails the test as the package doc says when no
// PostgreSQL server is configured.
func DSN(t testing.TB, driver string) string {
	t.Helper()
	switch driver {
	case storage.SQLite:
		return filepath.Join(t.TempDir(), "shortcode.db")
	case storage.Postgres:
		return postgresDSN(t)
	default:
		t.Fatalf("storagetest: unknown driver %q", driver)
		return ""
	}
}

var (
	adminOnce sync.Once
	admin     *sql.DB
	adminErr  error
)

func postgresDSN(t testing.TB) string {
	t.Helper()
	base := os.Getenv(EnvPostgres)
	if base == "" {
		if os.Getenv(EnvRequirePostgres) == "1" {
			t.Fatalf("%s=1 but %s is not set: PostgreSQL tests cannot run (bash .ci/run starts a server)", EnvRequirePostgres, EnvPostgres)
		}
		t.Skipf("PostgreSQL variant skipped: set %s to a server URL such as postgres://postgres@127.0.0.1:5433/postgres?sslmode=disable (bash .ci/run starts one)", EnvPostgres)
	}
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		t.Fatalf("%s must be a postgres:// URL, got %q", EnvPostgres, base)
	}
	adminOnce.Do(func() {
		admin, adminErr = sql.Open("postgres", base)
		if adminErr == nil {
			admin.SetMaxOpenConns(4)
		}
	})
	if adminErr != nil {
		t.Fatalf("connect to %s: %v", EnvPostgres, adminErr)
	}

	b := make([]byte, 8)
	_, _ = rand.Read(b)
	name := "t_" + hex.EncodeToString(b) // safe as an identifier
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("create test database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if _, err := admin.ExecContext(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("drop test database %s: %v", name, err)
		}
	})
	u.Path = "/" + name
	return u.String()
}

// PostgresAvailable reports whether a PostgreSQL server is configured for
// the tests.
func PostgresAvailable() bool { return os.Getenv(EnvPostgres) != "" }

// logKey signs the certification logs of tests (LogSigner, Sequence).
var logKey, logVKey = func() (string, string) {
	skey, vkey, err := note.GenerateKey(rand.Reader, "test.example/shortcode/log")
	if err != nil {
		panic(err)
	}
	return skey, vkey
}()

// LogSigner and LogVerifier are the keys of the test logs Sequence signs.
func LogSigner() note.Signer {
	s, err := note.NewSigner(logKey)
	if err != nil {
		panic(err)
	}
	return s
}

// LogVerifier verifies what LogSigner signs.
func LogVerifier() note.Verifier {
	v, err := note.NewVerifier(logVKey)
	if err != nil {
		panic(err)
	}
	return v
}

// Sequence integrates every queued certification into db's log, signed by
// LogSigner, as the sequencer of a running server would, and returns the
// log's size.
func Sequence(t testing.TB, db *storage.DB) int64 {
	t.Helper()
	l := &auditlog.Log{Store: db, Signer: LogSigner()}
	ctx := context.Background()
	for {
		n, err := l.Integrate(ctx)
		if err != nil {
			t.Fatalf("sequence: %v", err)
		}
		if n == 0 {
			break
		}
	}
	es, err := db.Entries(ctx, 0, 1<<62)
	if err != nil {
		t.Fatal(err)
	}
	return int64(len(es))
}

// OpenFilled is Open with n completed donations already stored, as years
// of history: n/4 numbers with four donations each on the demo program,
// all in 2020, each with the three MOs and three sent MTs of its
// conversation. It is for measuring how the per-MO cost grows with the
// history; the numbers are +13105550000 onwards (Filled).
func OpenFilled(t testing.TB, driver string, n int) *storage.DB {
	t.Helper()
	dsn := DSN(t, driver)
	db := openDSN(t, driver, dsn)
	raw, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	const at = "'2020-06-01T12:00:00.000000000Z'"
	phone := func(i string) string {
		return `'+1' || CAST(3105550000 + (` + i + `) % ` + strconv.Itoa(max(n/4, 1)) + ` AS TEXT)`
	}
	series := `WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < ` + strconv.Itoa(n) + `) `
	for _, q := range []string{
		series + `INSERT INTO donations (id, program_id, committee_id, phone, short_code, amount, status,
			created_at, reserved_at, received_at, certified_at, expires_at, pin_hash, pin_tries, token,
			charge_posted_at, correlator, server_ref, decline_reason, finished_at, carrier)
			SELECT 'fill-' || CAST(i AS TEXT), 'demo', 'C99999999', ` + phone("i") + `, '62262', 500, 'completed',
			` + at + `, ` + at + `, ` + at + `, ` + at + `, ` + at + `, '', 0, '', ` + at + `,
			'fill-' || CAST(i AS TEXT), 'ref-' || CAST(i AS TEXT), '', ` + at + `, 'SimTel' FROM s`,
		series + `INSERT INTO mos (gateway, message_id, phone, short_code, body, received_at)
			SELECT 'fill', 'SMfill' || CAST(i AS TEXT) || '-' || CAST(k AS TEXT), ` + phone("i") + `, '62262', 'GIVE 5', ` + at + `
			FROM s, (SELECT 1 AS k UNION ALL SELECT 2 UNION ALL SELECT 3) AS ks`,
		series + `INSERT INTO outbox (id, phone, short_code, body, donation_id, mo_id, status, attempts, last_error,
			created_at, next_attempt_at, sent_at, sid, kind)
			SELECT '1591012800000000000-' || CAST(i AS TEXT) || '-' || CAST(k AS TEXT), ` + phone("i") + `, '62262', 'filled',
			'fill-' || CAST(i AS TEXT), '', 'sent', 1, '', ` + at + `, ` + at + `, ` + at + `, 'SMfill' || CAST(i AS TEXT) || '-' || CAST(k AS TEXT), ''
			FROM s, (SELECT 1 AS k UNION ALL SELECT 2 UNION ALL SELECT 3) AS ks`,
	} {
		if _, err := raw.Exec(q); err != nil {
			t.Fatalf("fill %d donations: %v", n, err)
		}
	}
	if driver == storage.Postgres {
		if _, err := raw.Exec(`ANALYZE`); err != nil {
			t.Fatal(err)
		}
	}
	return db
}

// Filled returns the i-th number OpenFilled stored donations for.
func Filled(i, n int) string { return "+1" + strconv.Itoa(3105550000+i%max(n/4, 1)) }
