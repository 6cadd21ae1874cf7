package compliance

import "time"

// Entry is one amount counted against the caps: a completed contribution not
// refunded, or an open reservation, at its date of receipt or reservation.
type Entry struct {
	At     time.Time
	Amount int64 // cents
}
