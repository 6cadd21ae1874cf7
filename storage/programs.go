package storage

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/shortcode/shortcode/compliance"
)

// SaveProgram creates or replaces a program, its committee and its keywords
// in one transaction. It stores what it is given: validating the program is
// the caller's job. A committee is shared by its programs: the last program
// saved sets its configuration. A keyword already mapped to another program on the same
// short code fails with an error wrapping ErrKeywordTaken, and nothing
// changes.
func (db *DB) SaveProgram(ctx context.Context, p compliance.Program) error {
	if err := db.saveProgram(ctx, p); err != nil {
		return fmt.Errorf("save program %q: %w", p.ID, err)
	}
	return nil
}

func (db *DB) saveProgram(ctx context.Context, p compliance.Program) error {
	if p.ID == "" || p.ShortCode == "" || p.Committee.ID == "" {
		return errors.New("program id, short code and committee id are required")
	}
	committee, err := json.Marshal(p.Committee)
	if err != nil {
		return err
	}
	stored := p
	stored.Committee = compliance.Committee{ID: p.Committee.ID}
	config, err := json.Marshal(stored)
	if err != nil {
		return err
	}

	stx, err := db.begin(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = stx.Rollback() }() // no-op after Commit
	exec := func(q string, args ...any) (int64, error) {
		res, err := stx.ExecContext(ctx, stx.Rebind(q), args...)
		if err != nil {
			return 0, err
		}
		return res.RowsAffected()
	}

	if _, err := exec(`INSERT INTO committees (id, config) VALUES (?, ?)
		ON CONFLICT (id) DO UPDATE SET config = excluded.config`, p.Committee.ID, string(committee)); err != nil {
		return fmt.Errorf("committee %s: %w", p.Committee.ID, err)
	}
	if _, err := exec(`INSERT INTO programs (id, short_code, committee_id, active, config) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET short_code = excluded.short_code, committee_id = excluded.committee_id,
			active = excluded.active, config = excluded.config`,
		p.ID, p.ShortCode, p.Committee.ID, p.Active, string(config)); err != nil {
		return err
	}
	if _, err := exec(`DELETE FROM keywords WHERE program_id = ?`, p.ID); err != nil {
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
		n, err := exec(`INSERT INTO keywords (short_code, keyword, program_id) VALUES (?, ?, ?)
			ON CONFLICT (short_code, keyword) DO NOTHING`, p.ShortCode, k, p.ID)
		if err != nil {
			return fmt.Errorf("keyword %s: %w", k, err)
		}
		if n != 1 {
			return fmt.Errorf("keyword %s on %s: %w", k, p.ShortCode, ErrKeywordTaken)
		}
	}
	return stx.Commit()
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
	var rows []programRow
	if err := db.db.SelectContext(ctx, &rows, db.rebind(programSelect+` WHERE p.short_code = ? ORDER BY p.active DESC, p.id`), shortCode); err != nil {
		return nil, fmt.Errorf("programs on %s: %w", shortCode, err)
	}
	out := make([]compliance.Program, 0, len(rows))
	for _, r := range rows {
		p, err := r.program()
		if err != nil {
			return nil, fmt.Errorf("programs on %s: %w", shortCode, err)
		}
		out = append(out, p)
	}
	return out, nil
}

// Program returns one program by id, active or not, or an error wrapping
// donation.ErrNotFound.
func (db *DB) Program(ctx context.Context, id string) (compliance.Program, error) {
	var r programRow
	if err := db.db.GetContext(ctx, &r, db.rebind(programSelect+` WHERE p.id = ?`), id); err != nil {
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
