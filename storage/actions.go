package storage

import (
	"context"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
)

// Action is one row of the action log: what a treasurer, an admin or a
// local operator did (SPEC §11).
type Action struct {
	ID     string    `db:"id"` // sorts in write order
	At     time.Time `db:"-"`
	Actor  string    `db:"actor"`
	Action string    `db:"action"` // e.g. "token.create", "refund.request"
	Detail string    `db:"detail"`
}

// Actions returns the action log, oldest first.
func (db *DB) Actions(ctx context.Context) ([]Action, error) {
	var rows []struct {
		Action
		At stamp `db:"at"`
	}
	if err := db.db.SelectContext(ctx, &rows, `SELECT id, at, actor, action, detail FROM actions ORDER BY id`); err != nil {
		return nil, fmt.Errorf("actions: %w", err)
	}
	out := make([]Action, 0, len(rows))
	for _, r := range rows {
		a := r.Action
		a.At = time.Time(r.At)
		out = append(out, a)
	}
	return out, nil
}

// logAction appends to the action log inside tx, so that the action and
// its record commit together or not at all.
func logAction(ctx context.Context, tx *sqlx.Tx, at time.Time, actor, action, detail string) error {
	_, err := tx.ExecContext(ctx, tx.Rebind(`INSERT INTO actions (id, at, actor, action, detail) VALUES (?, ?, ?, ?, ?)`),
		orderedID(nanosOf(at), 0), stamp(at), actor, action, detail)
	if err != nil {
		return fmt.Errorf("log action %s: %w", action, err)
	}
	return nil
}
