package storage

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/pressly/goose/v3"
)

// appendOnly are the tables of the certification log: rows are inserted,
// never updated or deleted (SPEC §8), and the database itself refuses it,
// so that not even a hand-written statement can rewrite the evidence.
var appendOnly = []string{"cert_texts", "cert_queue", "cert_log", "cert_hashes", "cert_checkpoints"}

// appendOnlyVersion is the migration that adds the triggers. It is a Go
// migration because trigger syntax differs between the two databases.
const appendOnlyVersion = 8

// appendOnlyMigration returns migration 8 for driver.
func appendOnlyMigration(driver string) *goose.Migration {
	up := func(ctx context.Context, tx *sql.Tx) error {
		if driver == Postgres {
			if _, err := tx.ExecContext(ctx, `CREATE FUNCTION shortcode_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
				BEGIN RAISE EXCEPTION '% is append-only', TG_TABLE_NAME; END $$`); err != nil {
				return err
			}
		}
		for _, t := range appendOnly {
			for _, q := range appendOnlyTriggers(driver, t) {
				if _, err := tx.ExecContext(ctx, q); err != nil {
					return fmt.Errorf("append-only %s: %w", t, err)
				}
			}
		}
		return nil
	}
	down := func(ctx context.Context, tx *sql.Tx) error {
		for _, t := range appendOnly {
			for _, op := range []string{"update", "delete", "truncate"} {
				q := fmt.Sprintf(`DROP TRIGGER IF EXISTS %s_no_%s`, t, op)
				if driver == Postgres {
					q += " ON " + t
				}
				if _, err := tx.ExecContext(ctx, q); err != nil {
					return err
				}
			}
		}
		if driver == Postgres {
			_, err := tx.ExecContext(ctx, `DROP FUNCTION shortcode_append_only()`)
			return err
		}
		return nil
	}
	return goose.NewGoMigration(appendOnlyVersion, &goose.GoFunc{RunTx: up}, &goose.GoFunc{RunTx: down})
}

func appendOnlyTriggers(driver, table string) []string {
	if driver == Postgres {
		return []string{
			fmt.Sprintf(`CREATE TRIGGER %[1]s_no_update BEFORE UPDATE ON %[1]s FOR EACH ROW EXECUTE FUNCTION shortcode_append_only()`, table),
			fmt.Sprintf(`CREATE TRIGGER %[1]s_no_delete BEFORE DELETE ON %[1]s FOR EACH ROW EXECUTE FUNCTION shortcode_append_only()`, table),
			fmt.Sprintf(`CREATE TRIGGER %[1]s_no_truncate BEFORE TRUNCATE ON %[1]s FOR EACH STATEMENT EXECUTE FUNCTION shortcode_append_only()`, table),
		}
	}
	return []string{
		fmt.Sprintf(`CREATE TRIGGER %[1]s_no_update BEFORE UPDATE ON %[1]s BEGIN SELECT RAISE(ABORT, '%[1]s is append-only'); END`, table),
		fmt.Sprintf(`CREATE TRIGGER %[1]s_no_delete BEFORE DELETE ON %[1]s BEGIN SELECT RAISE(ABORT, '%[1]s is append-only'); END`, table),
	}
}
