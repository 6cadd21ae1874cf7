package compliance

import (
	"sync"
	"time"
	_ "time/tzdata" // committee time zones must load on hosts without a zoneinfo database
)

// GeneralElection returns the date of the US federal general election of
// year: the Tuesday after the first Monday in November (2 U.S.C. 7), as
// midnight UTC. General elections fall in even years; for an odd year it
// returns the next year's.
func GeneralElection(year int) time.Time {
	if year%2 != 0 {
		year++
	}
	nov1 := time.Date(year, time.November, 1, 0, 0, 0, 0, time.UTC)
	firstMonday := 1 + (int(time.Monday)-int(nov1.Weekday())+7)%7
	return time.Date(year, time.November, firstMonday+1, 0, 0, 0, 0, time.UTC)
}

// locations caches loaded time zones by name.
var locations sync.Map // string -> *time.Location

// Location returns the committee's time zone, or UTC when TimeZone is empty
// or cannot be loaded (Validate refuses the latter).
func (c Committee) Location() *time.Location {
	if c.TimeZone == "" {
		return time.UTC
	}
	if loc, ok := locations.Load(c.TimeZone); ok {
		return loc.(*time.Location)
	}
	loc, err := time.LoadLocation(c.TimeZone)
	if err != nil {
		loc = time.UTC
	}
	locations.Store(c.TimeZone, loc)
	return loc
}

// Period returns the aggregation period containing t as the half-open
// interval [start, end), in UTC (SPEC §5.1). For a pac it is the calendar
// year in the committee's time zone. For a candidate committee (and a
// committee of unknown type, the longer and so safer period) it is the
// election cycle: from the day after the previous general election through
// the day of the next one, days counted in the committee's time zone. The
// configured PreviousElection and NextElection bound the cycle when t lies
// in it; outside it, cycles follow the US general elections (GeneralElection),
// cut where they would overlap the configured one, so that periods never
// overlap.
func (c Committee) Period(t time.Time) (start, end time.Time) {
	loc := c.Location()
	local := t.In(loc)
	if c.Type == PAC {
		y := local.Year()
		return time.Date(y, time.January, 1, 0, 0, 0, 0, loc).UTC(),
			time.Date(y+1, time.January, 1, 0, 0, 0, 0, loc).UTC()
	}
	start, end = generalCycle(local, loc)
	if !c.PreviousElection.IsZero() && !c.NextElection.IsZero() {
		cs, ce := dayAfter(c.PreviousElection, loc), dayAfter(c.NextElection, loc)
		if cs.Before(ce) {
			switch {
			case !t.Before(cs) && t.Before(ce):
				start, end = cs, ce
			case !t.Before(ce) && start.Before(ce):
				start = ce
			case t.Before(cs) && end.After(cs):
				end = cs
			}
		}
	}
	return start.UTC(), end.UTC()
}

// generalCycle is the cycle between two general elections containing the
// local time t.
func generalCycle(t time.Time, loc *time.Location) (start, end time.Time) {
	next := GeneralElection(t.Year())
	end = dayAfter(next, loc)
	if !t.Before(end) { // after election day in an election year
		next = GeneralElection(t.Year() + 1)
		end = dayAfter(next, loc)
	}
	return dayAfter(GeneralElection(next.Year()-2), loc), end
}

// dayAfter is midnight in loc at the start of the day after the calendar
// date of d (d's own year, month and day).
func dayAfter(d time.Time, loc *time.Location) time.Time {
	y, m, day := d.Date()
	return time.Date(y, m, day+1, 0, 0, 0, 0, loc)
}

// dateOf is the calendar date of d at midnight UTC.
func dateOf(d time.Time) time.Time {
	y, m, day := d.Date()
	return time.Date(y, m, day, 0, 0, 0, 0, time.UTC)
}
