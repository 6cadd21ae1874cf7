package storage

import (
	"context"
	"fmt"
	"time"

	"github.com/shortcode/shortcode/donation"
)

// OldestPendingMT returns when the oldest MT still waiting to be sent was
// queued, whether it is due or backing off after a failed attempt; the zero
// time when none is waiting.
func (db *DB) OldestPendingMT(ctx context.Context) (time.Time, error) {
	var at stamp
	err := db.db.GetContext(ctx, &at, `SELECT MIN(created_at) FROM outbox WHERE status = '`+statusPending+`'`)
	if err != nil {
		return time.Time{}, fmt.Errorf("oldest pending MT: %w", err)
	}
	return time.Time(at), nil
}

// ChargeCounts counts the donations whose charge was posted and whose
// outcome is not recorded yet (charging), and those of them whose last
// attempt's outcome is unknown (a timeout, a 5xx), waiting to ask the
// carrier again.
func (db *DB) ChargeCounts(ctx context.Context) (charging, unknown int, err error) {
	var n struct {
		Charging int `db:"charging"`
		Unknown  int `db:"unknown"`
	}
	err = db.db.GetContext(ctx, &n, db.rebind(`SELECT COUNT(*) AS charging,
			COALESCE(SUM(CASE WHEN charge_attempts > 0 THEN 1 ELSE 0 END), 0) AS unknown
		FROM donations WHERE status = ? AND charge_posted_at IS NOT NULL`), string(donation.Open))
	if err != nil {
		return 0, 0, fmt.Errorf("charge counts: %w", err)
	}
	return n.Charging, n.Unknown, nil
}
