package compliance

import (
	"fmt"
	"math"
	"time"
)

// Entry is one amount counted against the caps: a completed contribution not
// refunded, or an open reservation. Its date is At, unless Until is after At:
// then its date is not fixed yet and may be anything from At through Until,
// as for a reservation not yet certified, which is dated when the donor
// certifies, at the latest when it expires. An entry counts in every period
// its possible dates touch, so that later amounts leave room for it wherever
// it lands.
type Entry struct {
	At     time.Time
	Until  time.Time // zero (or not after At) for a fixed date
	Amount int64     // cents
}

// last is the latest date e may take.
func (e Entry) last() time.Time {
	if e.Until.After(e.At) {
		return e.Until
	}
	return e.At
}

// within reports whether e may be dated in [start, end).
func (e Entry) within(start, end time.Time) bool {
	return e.At.Before(end) && !e.last().Before(start)
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

// uses returns the caps, other than the per-message cap, that apply to a
// new amount that may be dated anywhere from at through until (a zero until
// means at), with what history counts against each. An amount must fit every
// period its dates touch: each election cycle or calendar year, and each
// calendar month (in the committee's time zone). History counts in a period
// when its own dates touch it; by induction, whatever dates the amounts take
// in the end, no period holds more than its cap.
//
// In strict mode the rolling cap counts every entry that may be dated after
// at-31 days (entries dated after at, from a skewed clock, count too). That
// holds for any 31 days whatever the dates taken in the end: of the
// amounts dated in some 31 days, the last one reserved was checked against
// all the others, as none can be dated before its reservation.
func (l Limits) uses(c Committee, history []Entry, at, until time.Time) []capUse {
	span := Entry{At: at, Until: until}
	var uses []capUse
	count := func(cp Cap, limit int64, start, end time.Time) {
		u := capUse{cap: cp, limit: limit}
		for _, e := range history {
			if e.Amount > 0 && e.within(start, end) {
				u.used = addCents(u.used, e.Amount)
			}
		}
		uses = append(uses, u)
	}
	period := CapCycle
	if c.Type == PAC {
		period = CapYear
	}
	// Periods end after the time they contain, so the loops end.
	for t := at; !t.After(span.last()); {
		start, end := c.Period(t)
		count(period, l.Cycle, start, end)
		t = end
	}
	loc := c.Location()
	for t := at; !t.After(span.last()); {
		local := t.In(loc)
		start := time.Date(local.Year(), local.Month(), 1, 0, 0, 0, 0, loc)
		end := start.AddDate(0, 1, 0)
		count(CapMonth, l.Month, start, end)
		t = end
	}
	if l.Rolling {
		rolling := capUse{cap: CapRolling, limit: l.Month}
		since := at.Add(-RollingWindow)
		for _, e := range history {
			if e.Amount > 0 && e.last().After(since) {
				rolling.used = addCents(rolling.used, e.Amount)
			}
		}
		uses = append(uses, rolling)
	}
	return uses
}

// addCents adds without overflowing.
func addCents(a, b int64) int64 {
	if a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}

// binding is the cap with the least allowance left; on a tie, the longer
// period (cycle or year, then month, then rolling), then the earlier one.
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
// to committee c in an amount that may be dated anywhere from at through
// until (a zero until means at: a date fixed now), under the calendar-month
// cap, the rolling 31-day cap (strict mode) and the election-cycle
// (candidate) or calendar-year (pac) cap: the smallest allowance left in any
// period those dates touch, never negative, and the cap that binds. History
// entries are completed contributions not refunded and open reservations
// (SPEC §5.2); entries with a non-positive amount are ignored. The
// per-message cap is not included: see Check.
func (l Limits) Remaining(c Committee, history []Entry, at, until time.Time) (int64, Cap) {
	b := binding(l.uses(c, history, at, until))
	return b.remaining(), b.cap
}

// Check returns nil when amount may be reserved at at for a request that
// may be dated as late as until (its expiry; zero for a date fixed at at):
// it is positive, at most the per-message cap, and at most Remaining. Over a
// cap it returns a *CapError naming the cap that binds: CapMessage when only
// the per-message cap is passed, else the cap with the least allowance left.
// An amount that passes joins the history as Entry{at, until, amount}.
func (l Limits) Check(c Committee, history []Entry, at, until time.Time, amount int64) error {
	if amount <= 0 {
		return fmt.Errorf("check limits: amount %d cents is not positive", amount)
	}
	b := binding(l.uses(c, history, at, until))
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
