package compliance

import (
	"fmt"
	"math"
	"time"
)

// Entry is one amount counted against the caps: a completed contribution not
// refunded, or an open reservation, at its date of receipt or reservation.
type Entry struct {
	At     time.Time
	Amount int64 // cents
}

// Cap names one of the contribution caps of SPEC §5.1.
type Cap string

// The caps of SPEC §5.1.
const (
	CapMessage Cap = "message"         // one message: Limits.PerMessage
	CapMonth   Cap = "month"           // calendar month in the committee's time zone
	CapRolling Cap = "rolling_31_days" // any 31 days (strict mode)
	CapCycle   Cap = "cycle"           // election cycle of a candidate committee
	CapYear    Cap = "year"            // calendar year of a pac
)

// describe is the cap as words.
func (c Cap) describe() string {
	switch c {
	case CapMessage:
		return "per-message cap"
	case CapMonth:
		return "calendar-month cap"
	case CapRolling:
		return "31-day cap"
	case CapCycle:
		return "election-cycle cap"
	case CapYear:
		return "calendar-year cap"
	}
	return string(c) + " cap"
}

// CapError says that an amount would pass a cap. Remaining is what the
// donor may still give in one message (never negative): the smaller of the
// per-message cap and the allowance left under every other cap.
type CapError struct {
	Cap       Cap   // the binding cap
	Limit     int64 // that cap, in cents
	Used      int64 // what already counts against it, in cents (0 for CapMessage)
	Amount    int64 // the amount refused, in cents
	Remaining int64 // the largest amount that would pass, in cents
}

// Error implements error.
func (e *CapError) Error() string {
	if e.Cap == CapMessage {
		return fmt.Sprintf("$%s is over the %s of $%s; at most $%s can be given now",
			FormatAmount(e.Amount), e.Cap.describe(), FormatAmount(e.Limit), FormatAmount(e.Remaining))
	}
	return fmt.Sprintf("$%s is over the %s of $%s ($%s used); at most $%s can be given now",
		FormatAmount(e.Amount), e.Cap.describe(), FormatAmount(e.Limit), FormatAmount(e.Used), FormatAmount(e.Remaining))
}

// RollingWindow is the strict-mode window: any 31 days.
const RollingWindow = 31 * 24 * time.Hour

// capUse is one cap's limit and what counts against it.
type capUse struct {
	cap         Cap
	limit, used int64
}

func (u capUse) remaining() int64 { return max(0, u.limit-u.used) }

// uses returns the caps that apply to c at now, other than the
// per-message cap, with what history counts against each: the election
// cycle or calendar year, the calendar month (both in the committee's time
// zone), and in strict mode the last 31 days: entries after now-31 days
// (entries dated after now, from a skewed clock, count too). Entries are
// counted when their amount is positive.
func (l Limits) uses(c Committee, history []Entry, now time.Time) []capUse {
	loc := c.Location()
	ps, pe := c.Period(now)
	period := capUse{cap: CapCycle, limit: l.Cycle}
	if c.Type == PAC {
		period.cap = CapYear
	}
	local := now.In(loc)
	ms := time.Date(local.Year(), local.Month(), 1, 0, 0, 0, 0, loc)
	me := ms.AddDate(0, 1, 0)
	month := capUse{cap: CapMonth, limit: l.Month}
	rolling := capUse{cap: CapRolling, limit: l.Month}
	rs := now.Add(-RollingWindow)
	for _, e := range history {
		if e.Amount <= 0 {
			continue
		}
		if !e.At.Before(ps) && e.At.Before(pe) {
			period.used = addCents(period.used, e.Amount)
		}
		if !e.At.Before(ms) && e.At.Before(me) {
			month.used = addCents(month.used, e.Amount)
		}
		if e.At.After(rs) {
			rolling.used = addCents(rolling.used, e.Amount)
		}
	}
	if l.Rolling {
		return []capUse{period, month, rolling}
	}
	return []capUse{period, month}
}

// addCents adds without overflowing.
func addCents(a, b int64) int64 {
	if a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}

// binding is the cap with the least allowance left; on a tie, the longer
// period (cycle or year, then month, then rolling).
func binding(uses []capUse) capUse {
	b := uses[0]
	for _, u := range uses[1:] {
		if u.remaining() < b.remaining() {
			b = u
		}
	}
	return b
}

// Remaining returns how much more a donor with the given history may give
// to committee c at now under the calendar-month cap, the rolling 31-day
// cap (strict mode) and the election-cycle (candidate) or calendar-year
// (pac) cap: the smallest allowance left, never negative, and the cap that
// binds. History entries are completed contributions not refunded and open
// reservations (SPEC §5.2); entries with a non-positive amount are ignored.
// The per-message cap is not included: see Check.
func (l Limits) Remaining(c Committee, history []Entry, now time.Time) (int64, Cap) {
	b := binding(l.uses(c, history, now))
	return b.remaining(), b.cap
}

// Check returns nil when amount may be given now: it is positive, at most
// the per-message cap, and at most Remaining. Over a cap it returns a
// *CapError naming the cap that binds: CapMessage when only the per-message
// cap is passed, else the cap with the least allowance left.
func (l Limits) Check(c Committee, history []Entry, now time.Time, amount int64) error {
	if amount <= 0 {
		return fmt.Errorf("check limits: amount %d cents is not positive", amount)
	}
	b := binding(l.uses(c, history, now))
	rem := b.remaining()
	perMessage := max(0, l.PerMessage)
	if amount <= min(perMessage, rem) {
		return nil
	}
	if perMessage < rem {
		return &CapError{Cap: CapMessage, Limit: l.PerMessage, Amount: amount, Remaining: perMessage}
	}
	return &CapError{Cap: b.cap, Limit: b.limit, Used: b.used, Amount: amount, Remaining: rem}
}
