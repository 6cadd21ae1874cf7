package storage

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/shortcode/shortcode/donation"
)

// Action is one row of the action log.
type Action = donation.Action

// Actions returns the action log, oldest first.
func (db *DB) Actions(ctx context.Context) ([]Action, error) {
	var rows []struct {
		ID     string `db:"id"`
		At     stamp  `db:"at"`
		Actor  string `db:"actor"`
		Action string `db:"action"`
		Detail string `db:"detail"`
	}
	if err := db.db.SelectContext(ctx, &rows, `SELECT id, at, actor, action, detail FROM actions ORDER BY id`); err != nil {
		return nil, fmt.Errorf("actions: %w", err)
	}
	out := make([]Action, 0, len(rows))
	for _, r := range rows {
		out = append(out, Action{ID: r.ID, At: time.Time(r.At), Actor: r.Actor, Action: r.Action, Detail: r.Detail})
	}
	return out, nil
}

// logAction appends to the action log inside tx, so that the action and
// its record commit together or not at all. Its id sorts after every id
// written before, even when the clock stands still or steps back.
func logAction(ctx context.Context, tx *sqlx.Tx, at time.Time, actor, action, detail string) error {
	var last sql.NullString
	if err := tx.GetContext(ctx, &last, `SELECT MAX(id) FROM actions`); err != nil {
		return fmt.Errorf("log action %s: %w", action, err)
	}
	nanos := nanosOf(at)
	if last.Valid {
		if n, err := strconv.ParseInt(strings.SplitN(last.String, "-", 2)[0], 10, 64); err == nil && n >= nanos {
			nanos = n + 1
		}
	}
	_, err := tx.ExecContext(ctx, tx.Rebind(`INSERT INTO actions (id, at, actor, action, detail) VALUES (?, ?, ?, ?, ?)`),
		orderedID(nanos, 0), stamp(at), actor, action, detail)
	if err != nil {
		return fmt.Errorf("log action %s: %w", action, err)
	}
	return nil
}
