package storage

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/shortcode/shortcode/compliance"
	"github.com/shortcode/shortcode/donation/program"
)

var (
	_ program.Store = (*DB)(nil)
	_ program.Tx    = (*programTx)(nil)
)

// programsLock is the PostgreSQL advisory lock that serialises program
// changes (SQLite's BEGIN IMMEDIATE already does): they are rare, and one
// may touch several short codes and every program of a committee.
const programsLock = 0x73630070726f67 // "sc\0prog"

// UpdatePrograms runs fn in one transaction, serialised with every other
// program change across servers, and commits when fn returns nil; an
// error, or a panic, rolls back.
func (db *DB) UpdatePrograms(ctx context.Context, fn func(program.Tx) error) error {
	stx, err := db.begin(ctx)
	if err != nil {
		return fmt.Errorf("programs: begin: %w", err)
	}
	defer func() { _ = stx.Rollback() }() // no-op after Commit
	if db.driver == Postgres {
		if _, err := stx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(programsLock)); err != nil {
			return fmt.Errorf("programs: lock: %w", err)
		}
	}
	if err := fn(&programTx{tx: stx}); err != nil {
		return err
	}
	if db.driver == Postgres {
		// Sent at the commit, to every server's program cache.
		if _, err := stx.ExecContext(ctx, `SELECT pg_notify($1, '')`, programsChannel); err != nil {
			return fmt.Errorf("programs: notify: %w", err)
		}
	}
	if err := stx.Commit(); err != nil {
		return fmt.Errorf("programs: commit: %w", err)
	}
	if db.programs != nil {
		db.programs.forget() // this server's next read sees its own change
	}
	return nil
}

// SaveProgram creates or replaces a program, its committee and its
// keywords in one transaction, without logging an action. It stores what
// it is given: validating the program is the caller's job (program.Service
// does both). A keyword already mapped to another program on the same
// short code fails with an error wrapping ErrKeywordTaken, and nothing
// changes.
func (db *DB) SaveProgram(ctx context.Context, p compliance.Program) error {
	return db.UpdatePrograms(ctx, func(tx program.Tx) error {
		if err := tx.SaveCommittee(ctx, p.Committee); err != nil {
			return err
		}
		return tx.SaveProgram(ctx, p)
	})
}

// programTx is program.Tx over one transaction of UpdatePrograms.
type programTx struct {
	tx *sqlx.Tx
}

func (t *programTx) exec(ctx context.Context, q string, args ...any) (int64, error) {
	res, err := t.tx.ExecContext(ctx, t.tx.Rebind(q), args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// SaveCommittee creates or replaces a committee.
func (t *programTx) SaveCommittee(ctx context.Context, c compliance.Committee) error {
	if c.ID == "" {
		return errors.New("save committee: empty id")
	}
	config, err := json.Marshal(c)
	if err != nil {
		return fmt.Errorf("save committee %s: %w", c.ID, err)
	}
	if _, err := t.exec(ctx, `INSERT INTO committees (id, config) VALUES (?, ?)
		ON CONFLICT (id) DO UPDATE SET config = excluded.config`, c.ID, string(config)); err != nil {
		return fmt.Errorf("save committee %s: %w", c.ID, err)
	}
	return nil
}

// SaveProgram creates or replaces a program and its keywords; its
// committee must be stored.
func (t *programTx) SaveProgram(ctx context.Context, p compliance.Program) error {
	if err := t.saveProgram(ctx, p); err != nil {
		return fmt.Errorf("store program %q: %w", p.ID, err)
	}
	return nil
}

func (t *programTx) saveProgram(ctx context.Context, p compliance.Program) error {
	if p.ID == "" || p.ShortCode == "" || p.Committee.ID == "" {
		return errors.New("program id, short code and committee id are required")
	}
	stored := p
	stored.Committee = compliance.Committee{ID: p.Committee.ID}
	config, err := json.Marshal(stored)
	if err != nil {
		return err
	}
	if _, err := t.exec(ctx, `INSERT INTO programs (id, short_code, committee_id, active, config) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET short_code = excluded.short_code, committee_id = excluded.committee_id,
			active = excluded.active, config = excluded.config`,
		p.ID, p.ShortCode, p.Committee.ID, p.Active, string(config)); err != nil {
		return err
	}
	if _, err := t.exec(ctx, `DELETE FROM keywords WHERE program_id = ?`, p.ID); err != nil {
		return fmt.Errorf("keywords: %w", err)
	}
	seen := map[string]bool{}
	for _, k := range p.Keywords {
		k = strings.ToUpper(strings.TrimSpace(k))
		if k == "" || seen[k] {
			continue
		}
		seen[k] = true
		// A keyword held by another program conflicts; on PostgreSQL an
		// insert racing another transaction's waits for it first.
		n, err := t.exec(ctx, `INSERT INTO keywords (short_code, keyword, program_id) VALUES (?, ?, ?)
			ON CONFLICT (short_code, keyword) DO NOTHING`, p.ShortCode, k, p.ID)
		if err != nil {
			return fmt.Errorf("keyword %s: %w", k, err)
		}
		if n != 1 {
			return fmt.Errorf("keyword %s on %s: %w", k, p.ShortCode, ErrKeywordTaken)
		}
	}
	return nil
}

// Program returns one program, or an error wrapping donation.ErrNotFound.
func (t *programTx) Program(ctx context.Context, id string) (compliance.Program, error) {
	return getProgram(ctx, t.tx, id)
}

// Programs returns the programs on a short code, or every one for "".
func (t *programTx) Programs(ctx context.Context, shortCode string) ([]compliance.Program, error) {
	if shortCode == "" {
		return selectPrograms(ctx, t.tx, `ORDER BY p.short_code, p.active DESC, p.id`)
	}
	ps, err := selectPrograms(ctx, t.tx, `WHERE p.short_code = ? ORDER BY p.active DESC, p.id`, shortCode)
	if err != nil {
		return nil, fmt.Errorf("programs on %s: %w", shortCode, err)
	}
	return ps, nil
}

// CommitteePrograms returns the programs of a committee.
func (t *programTx) CommitteePrograms(ctx context.Context, committeeID string) ([]compliance.Program, error) {
	ps, err := selectPrograms(ctx, t.tx, `WHERE p.committee_id = ? ORDER BY p.id`, committeeID)
	if err != nil {
		return nil, fmt.Errorf("programs of committee %s: %w", committeeID, err)
	}
	return ps, nil
}

// Committee returns a committee, or an error wrapping donation.ErrNotFound.
func (t *programTx) Committee(ctx context.Context, id string) (compliance.Committee, error) {
	var config string
	if err := t.tx.GetContext(ctx, &config, t.tx.Rebind(`SELECT config FROM committees WHERE id = ?`), id); err != nil {
		return compliance.Committee{}, fmt.Errorf("committee %s: %w", id, notFound(err))
	}
	var c compliance.Committee
	if err := json.Unmarshal([]byte(config), &c); err != nil {
		return compliance.Committee{}, fmt.Errorf("decode committee %s: %w", id, err)
	}
	return c, nil
}

// LogAction appends to the action log in the transaction.
func (t *programTx) LogAction(ctx context.Context, at time.Time, actor, action, detail string) error {
	return logAction(ctx, t.tx, at, actor, action, detail)
}

// programRow is a program joined with its committee.
type programRow struct {
	Config    string `db:"config"`
	Committee string `db:"committee"`
}

func (r programRow) program() (compliance.Program, error) {
	var p compliance.Program
	if err := json.Unmarshal([]byte(r.Config), &p); err != nil {
		return compliance.Program{}, fmt.Errorf("decode program: %w", err)
	}
	if err := json.Unmarshal([]byte(r.Committee), &p.Committee); err != nil {
		return compliance.Program{}, fmt.Errorf("decode committee of program %s: %w", p.ID, err)
	}
	return p, nil
}

const programSelect = `SELECT p.config AS config, c.config AS committee
	FROM programs p JOIN committees c ON c.id = p.committee_id`

// Programs returns every program on a short code, active ones first, then
// by id. Inactive programs take no new donations, but their donors' STOP and
// HELP still work.
func (db *DB) Programs(ctx context.Context, shortCode string) ([]compliance.Program, error) {
	if db.programs != nil {
		return db.programs.get(ctx, shortCode, db.readPrograms)
	}
	return db.readPrograms(ctx, shortCode)
}

func (db *DB) readPrograms(ctx context.Context, shortCode string) ([]compliance.Program, error) {
	ps, err := selectPrograms(ctx, db.db, `WHERE p.short_code = ? ORDER BY p.active DESC, p.id`, shortCode)
	if err != nil {
		return nil, fmt.Errorf("programs on %s: %w", shortCode, err)
	}
	return ps, nil
}

// AllPrograms returns every program, by short code, active ones first,
// then by id.
func (db *DB) AllPrograms(ctx context.Context) ([]compliance.Program, error) {
	return selectPrograms(ctx, db.db, `ORDER BY p.short_code, p.active DESC, p.id`)
}

// Program returns one program by id, active or not, or an error wrapping
// donation.ErrNotFound.
func (db *DB) Program(ctx context.Context, id string) (compliance.Program, error) {
	return getProgram(ctx, db.db, id)
}

// queryer reads from the database or from a transaction.
type queryer interface {
	sqlx.QueryerContext
	Rebind(string) string
}

// selectPrograms returns the programs that the clause after programSelect
// picks.
func selectPrograms(ctx context.Context, q queryer, clause string, args ...any) ([]compliance.Program, error) {
	var rows []programRow
	if err := sqlx.SelectContext(ctx, q, &rows, q.Rebind(programSelect+` `+clause), args...); err != nil {
		return nil, fmt.Errorf("programs: %w", err)
	}
	out := make([]compliance.Program, 0, len(rows))
	for _, r := range rows {
		p, err := r.program()
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

func getProgram(ctx context.Context, q queryer, id string) (compliance.Program, error) {
	var r programRow
	if err := sqlx.GetContext(ctx, q, &r, q.Rebind(programSelect+` WHERE p.id = ?`), id); err != nil {
		return compliance.Program{}, fmt.Errorf("program %q: %w", id, notFound(err))
	}
	p, err := r.program()
	if err != nil {
		return compliance.Program{}, fmt.Errorf("program %q: %w", id, err)
	}
	return p, nil
}

// CountPrograms returns how many programs are stored, active or not.
func (db *DB) CountPrograms(ctx context.Context) (int, error) {
	var n int
	if err := db.db.GetContext(ctx, &n, `SELECT COUNT(*) FROM programs`); err != nil {
		return 0, fmt.Errorf("count programs: %w", err)
	}
	return n, nil
}
