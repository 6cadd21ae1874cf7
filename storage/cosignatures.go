package storage

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/pressly/goose/v3"
	"golang.org/x/mod/sumdb/note"

	"github.com/shortcode/shortcode/compliance/certlog"
	"github.com/shortcode/shortcode/donation/auditlog"
)

var _ auditlog.CosignatureStore = (*DB)(nil)

// cosignaturesVersion is the migration that adds cert_cosignatures. Like
// migration 8, it is a Go migration because its append-only triggers are
// written differently for each database.
const cosignaturesVersion = 11

// cosignaturesMigration returns migration 11 for driver: the witnesses'
// cosignatures of the log's checkpoints (c2sp.org/tlog-witness), kept as
// rows of their own since a checkpoint's row never changes, and as
// append-only as it.
func cosignaturesMigration(driver string) *goose.Migration {
	up := func(ctx context.Context, tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `CREATE TABLE cert_cosignatures (
			size        BIGINT NOT NULL REFERENCES cert_checkpoints (size),
			key_name    TEXT   NOT NULL, -- the witness key's name
			key_hash    BIGINT NOT NULL, -- and its 32-bit key ID
			signature   TEXT   NOT NULL, -- base64, as in the note's signature line
			received_at TEXT,
			PRIMARY KEY (size, key_name, key_hash)
		)`); err != nil {
			return err
		}
		for _, q := range appendOnlyTriggers(driver, "cert_cosignatures") {
			if _, err := tx.ExecContext(ctx, q); err != nil {
				return fmt.Errorf("append-only cert_cosignatures: %w", err)
			}
		}
		return nil
	}
	down := func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `DROP TABLE cert_cosignatures`)
		return err
	}
	return goose.NewGoMigration(cosignaturesVersion, &goose.GoFunc{RunTx: up}, &goose.GoFunc{RunTx: down})
}

// AddCosignatures stores witnesses' cosignatures of the checkpoint of a
// tree of size size; a key's first one is kept.
func (db *DB) AddCosignatures(ctx context.Context, size int64, sigs []note.Signature, at time.Time) error {
	return db.inTx(ctx, "", func(tx *sqlx.Tx) error {
		for _, s := range sigs {
			_, err := tx.ExecContext(ctx, tx.Rebind(`INSERT INTO cert_cosignatures (size, key_name, key_hash, signature, received_at)
				VALUES (?, ?, ?, ?, ?) ON CONFLICT (size, key_name, key_hash) DO NOTHING`),
				size, s.Name, int64(s.Hash), s.Base64, stamp(at))
			if err != nil {
				return fmt.Errorf("cosignature of checkpoint %d by %s: %w", size, s.Name, err)
			}
		}
		return nil
	})
}

// Checkpoint returns the latest signed checkpoint with the witnesses'
// cosignatures of it, in the order they came, as further signature lines
// (certlog.AppendSignatures).
func (db *DB) Checkpoint(ctx context.Context) ([]byte, error) {
	var cp struct {
		Size   int64  `db:"size"`
		Signed string `db:"signed"`
	}
	err := db.db.GetContext(ctx, &cp, `SELECT size, signed FROM cert_checkpoints ORDER BY size DESC LIMIT 1`)
	if err != nil {
		return nil, fmt.Errorf("checkpoint: %w", notFound(err))
	}
	var rows []struct {
		Name   string `db:"key_name"`
		Hash   int64  `db:"key_hash"`
		Base64 string `db:"signature"`
	}
	err = db.db.SelectContext(ctx, &rows, db.rebind(`SELECT key_name, key_hash, signature FROM cert_cosignatures
		WHERE size = ? ORDER BY received_at, key_name, key_hash`), cp.Size)
	if err != nil {
		return nil, fmt.Errorf("cosignatures of checkpoint %d: %w", cp.Size, err)
	}
	sigs := make([]note.Signature, len(rows))
	for i, r := range rows {
		sigs[i] = note.Signature{Name: r.Name, Hash: uint32(r.Hash), Base64: r.Base64}
	}
	return certlog.AppendSignatures([]byte(cp.Signed), sigs...), nil
}
