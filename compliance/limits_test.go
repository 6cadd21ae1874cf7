package compliance_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shortcode/shortcode/compliance"
)

// noon is a date at 12:00 UTC.
func noon(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 12, 0, 0, 0, time.UTC) }

func entry(at time.Time, cents int64) compliance.Entry {
	return compliance.Entry{At: at, Amount: cents}
}

type limitCase struct {
	name    string
	limits  compliance.Limits
	c       compliance.Committee
	history []compliance.Entry
	now     time.Time
	until   time.Time // the new amount's latest date; zero: fixed at now
	amount  int64
	// want: nil error, or a *CapError with this cap, used and remaining.
	ok        bool
	cap       compliance.Cap
	used, rem int64
}

func runLimitCases(t *testing.T, cases []limitCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			l := tc.limits
			if l == (compliance.Limits{}) {
				l = compliance.DefaultLimits
			}
			c := tc.c
			if c.Type == "" {
				c.Type = compliance.Candidate
			}
			err := l.Check(c, tc.history, tc.now, tc.until, tc.amount)
			if tc.ok {
				if err != nil {
					t.Fatalf("Check($%s) = %v, want allowed", compliance.FormatAmount(tc.amount), err)
				}
				return
			}
			var ce *compliance.CapError
			if !errors.As(err, &ce) {
				t.Fatalf("Check($%s) = %v, want a *CapError", compliance.FormatAmount(tc.amount), err)
			}
			if ce.Cap != tc.cap || ce.Used != tc.used || ce.Remaining != tc.rem || ce.Amount != tc.amount {
				t.Errorf("CapError = %+v, want cap %s, used %d, remaining %d, amount %d", *ce, tc.cap, tc.used, tc.rem, tc.amount)
			}
		})
	}
}

func TestCheckPerMessage(t *testing.T) {
	now := noon(2025, 3, 15)
	runLimitCases(t, []limitCase{
		{name: "at the per-message cap", now: now, amount: 2000, ok: true},
		{name: "a cent over the per-message cap", now: now, amount: 2001, cap: compliance.CapMessage, rem: 2000},
		{name: "far over the per-message cap", now: now, amount: 100_000_00, cap: compliance.CapMessage, rem: 2000},
		{name: "over the per-message cap and the month's allowance", now: now, amount: 2500,
			history: []compliance.Entry{entry(noon(2025, 3, 1), 4000)},
			cap:     compliance.CapMonth, used: 4000, rem: 1000},
		{name: "per-message cap equal to what is left", now: now, amount: 2500,
			history: []compliance.Entry{entry(noon(2025, 3, 1), 3000)},
			cap:     compliance.CapMonth, used: 3000, rem: 2000},
	})
	for _, amount := range []int64{0, -1, -2000} {
		err := compliance.DefaultLimits.Check(compliance.Committee{Type: compliance.Candidate}, nil, now, time.Time{}, amount)
		var ce *compliance.CapError
		if err == nil || errors.As(err, &ce) {
			t.Errorf("Check(%d) = %v, want a plain error", amount, err)
		}
	}
}

func TestCheckCalendarMonth(t *testing.T) {
	jan := func(d int) time.Time { return noon(2025, 1, d) }
	ny := compliance.Committee{Type: compliance.Candidate, TimeZone: "America/New_York"}
	notRolling := compliance.DefaultLimits
	notRolling.Rolling = false
	runLimitCases(t, []limitCase{
		{name: "$50 in a month exactly", now: jan(25), amount: 2000, ok: true,
			history: []compliance.Entry{entry(jan(5), 2000), entry(jan(10), 1000)}},
		{name: "one cent more", now: jan(25), amount: 2001,
			history: []compliance.Entry{entry(jan(5), 2000), entry(jan(10), 1000)},
			cap:     compliance.CapMonth, used: 3000, rem: 2000},
		{name: "one cent more, under the per-message cap", now: jan(25), amount: 501,
			history: []compliance.Entry{entry(jan(5), 2000), entry(jan(10), 2500)},
			cap:     compliance.CapMonth, used: 4500, rem: 500},
		{name: "the last cent", now: jan(25), amount: 1,
			history: []compliance.Entry{entry(jan(5), 2000), entry(jan(10), 2999)}, ok: true},
		{name: "nothing left", now: jan(25), amount: 1,
			history: []compliance.Entry{entry(jan(5), 5000)},
			cap:     compliance.CapMonth, used: 5000, rem: 0},
		{name: "an open reservation made just now counts", now: jan(25), amount: 1100,
			history: []compliance.Entry{entry(jan(5), 2000), entry(jan(25), 2000)},
			cap:     compliance.CapMonth, used: 4000, rem: 1000},
		{name: "last month does not count (not rolling)", limits: notRolling, now: noon(2025, 2, 1), amount: 2000, ok: true,
			history: []compliance.Entry{entry(jan(31), 5000)}},
		{name: "month boundary in the committee's zone: Jan 31 evening in New York is January",
			limits: notRolling, c: ny, now: time.Date(2025, 2, 1, 12, 0, 0, 0, time.UTC), amount: 2000, ok: true,
			history: []compliance.Entry{entry(time.Date(2025, 2, 1, 3, 0, 0, 0, time.UTC), 5000)}},
		{name: "month boundary in the committee's zone: Feb 1 morning in New York is February",
			limits: notRolling, c: ny, now: time.Date(2025, 2, 20, 12, 0, 0, 0, time.UTC), amount: 2000,
			history: []compliance.Entry{entry(time.Date(2025, 2, 1, 5, 0, 0, 0, time.UTC), 5000)},
			cap:     compliance.CapMonth, used: 5000, rem: 0},
		{name: "zero and negative entries count nothing", now: jan(25), amount: 2000, ok: true,
			history: []compliance.Entry{entry(jan(5), 0), entry(jan(6), -5000), entry(jan(7), 3000)}},
	})
}

func TestCheckRolling31Days(t *testing.T) {
	// $30 on Jan 20 and $20 on Feb 1 pass the calendar months, but any 31
	// days hold at most $50.
	history := []compliance.Entry{entry(noon(2025, 1, 20), 3000), entry(noon(2025, 2, 1), 2000)}
	// A $25 per-message cap, so that the rolling cap is what refuses $25.
	strict := compliance.Limits{PerMessage: 2500, Month: 5000, Rolling: true, Cycle: 20000}
	notRolling := strict
	notRolling.Rolling = false
	runLimitCases(t, []limitCase{
		{limits: strict, name: "$20 on Feb 1 after $30 on Jan 20", now: noon(2025, 2, 1), amount: 2000, ok: true,
			history: history[:1]},
		{limits: strict, name: "$25 on Feb 10", now: noon(2025, 2, 10), amount: 2500, history: history,
			cap: compliance.CapRolling, used: 5000, rem: 0},
		{name: "$25 on Feb 10 without strict mode", limits: notRolling, now: noon(2025, 2, 10), amount: 2500, ok: true,
			history: history},
		{limits: strict, name: "a second before Jan 20's gift is 31 days old", now: noon(2025, 2, 20).Add(-time.Second), amount: 2500,
			history: history, cap: compliance.CapRolling, used: 5000, rem: 0},
		{limits: strict, name: "31 days after Jan 20's gift", now: noon(2025, 2, 20), amount: 2500, ok: true, history: history},
		{limits: strict, name: "$25 on Feb 21", now: noon(2025, 2, 21), amount: 2500, ok: true, history: history},
		{limits: strict, name: "$15.01 on Feb 21 passes the month's $15 left", now: noon(2025, 2, 21), amount: 1501,
			history: append(history, entry(noon(2025, 2, 21), 1500)),
			cap:     compliance.CapMonth, used: 3500, rem: 1500},
	})
}

func TestCheckCandidateCycle(t *testing.T) {
	// $50 in each of four months across two calendar years of the
	// 2024–2026 cycle (Nov 6, 2024 through Nov 3, 2026).
	history := []compliance.Entry{
		entry(noon(2024, 12, 1), 5000), entry(noon(2025, 1, 1), 5000),
		entry(noon(2025, 6, 1), 5000), entry(noon(2026, 3, 1), 4000),
	}
	ny := compliance.Committee{Type: compliance.Candidate, TimeZone: "America/New_York"}
	before := []compliance.Entry{entry(noon(2024, 11, 5), 5000), entry(noon(2024, 10, 1), 5000)}
	runLimitCases(t, []limitCase{
		{name: "$200 in the cycle exactly", now: noon(2026, 6, 1), amount: 1000, ok: true, history: history},
		{name: "one cent more", now: noon(2026, 6, 1), amount: 1001, history: history,
			cap: compliance.CapCycle, used: 19000, rem: 1000},
		{name: "cycle full", now: noon(2026, 6, 1), amount: 500,
			history: append(history, entry(noon(2026, 4, 1), 1000)),
			cap:     compliance.CapCycle, used: 20000, rem: 0},
		{name: "gifts before the cycle do not count", now: noon(2026, 6, 1), amount: 1000, ok: true,
			history: append(history, before...)},
		{name: "election day still in the cycle", now: time.Date(2026, 11, 3, 23, 59, 0, 0, time.UTC), amount: 500,
			history: append(history, entry(noon(2026, 4, 1), 1000)),
			cap:     compliance.CapCycle, used: 20000, rem: 0},
		{name: "reset the day after the election", now: time.Date(2026, 11, 4, 0, 0, 0, 0, time.UTC), amount: 2000, ok: true,
			history: append(history, entry(noon(2026, 4, 1), 1000))},
		{name: "election night in New York is still election day", c: ny,
			now: time.Date(2026, 11, 4, 4, 0, 0, 0, time.UTC), amount: 500,
			history: append(history, entry(noon(2026, 4, 1), 1000)),
			cap:     compliance.CapCycle, used: 20000, rem: 0},
		{name: "reset at midnight in New York", c: ny,
			now: time.Date(2026, 11, 4, 5, 0, 0, 0, time.UTC), amount: 2000, ok: true,
			history: append(history, entry(noon(2026, 4, 1), 1000))},
	})
}

func TestCheckPACCalendarYear(t *testing.T) {
	pac := compliance.Committee{Type: compliance.PAC, TimeZone: "America/New_York"}
	history := []compliance.Entry{
		entry(noon(2026, 1, 10), 5000), entry(noon(2026, 3, 10), 5000),
		entry(noon(2026, 6, 10), 5000), entry(noon(2026, 9, 10), 5000),
	}
	// The last gift of 2025, late on New Year's Eve in New York, is 2025's.
	lastOf2025 := entry(time.Date(2026, 1, 1, 4, 30, 0, 0, time.UTC), 2000)
	runLimitCases(t, []limitCase{
		{name: "$200 in the year: nothing left", c: pac, now: time.Date(2026, 12, 31, 12, 0, 0, 0, time.UTC), amount: 500,
			history: history, cap: compliance.CapYear, used: 20000, rem: 0},
		{name: "New Year's Eve 23:30 in New York", c: pac, now: time.Date(2027, 1, 1, 4, 30, 0, 0, time.UTC), amount: 500,
			history: history, cap: compliance.CapYear, used: 20000, rem: 0},
		{name: "reset on Jan 1 in New York", c: pac, now: time.Date(2027, 1, 1, 5, 0, 0, 0, time.UTC), amount: 2000, ok: true,
			history: history},
		{name: "a gift on Dec 31 evening in New York counts for the old year", c: pac,
			now: noon(2026, 1, 20), amount: 2000, ok: true,
			history: []compliance.Entry{lastOf2025, entry(noon(2026, 1, 10), 1000)}},
		{name: "one cent over the year", c: pac, now: noon(2026, 11, 10), amount: 1001,
			history: append(history[:3:3], entry(noon(2026, 9, 10), 4000)),
			cap:     compliance.CapYear, used: 19000, rem: 1000},
	})
}

func TestRemaining(t *testing.T) {
	c := compliance.Committee{Type: compliance.Candidate}
	now := noon(2025, 3, 15)
	for _, tc := range []struct {
		name    string
		limits  compliance.Limits
		history []compliance.Entry
		rem     int64
		cap     compliance.Cap
	}{
		{"nothing given: the month binds", compliance.DefaultLimits, nil, 5000, compliance.CapMonth},
		{"month", compliance.DefaultLimits, []compliance.Entry{entry(noon(2025, 3, 1), 1000)}, 4000, compliance.CapMonth},
		{"rolling", compliance.DefaultLimits, []compliance.Entry{entry(noon(2025, 2, 28), 3000), entry(noon(2025, 3, 1), 1000)}, 1000, compliance.CapRolling},
		{"cycle", compliance.DefaultLimits, []compliance.Entry{entry(noon(2024, 12, 1), 18000)}, 2000, compliance.CapCycle},
		{"never negative", compliance.DefaultLimits, []compliance.Entry{entry(noon(2025, 3, 1), 9000)}, 0, compliance.CapMonth},
		{"tie between cycle and month: cycle", compliance.DefaultLimits,
			[]compliance.Entry{entry(noon(2024, 12, 1), 15000), entry(noon(2025, 3, 1), 5000)}, 0, compliance.CapCycle},
		{"cycle smaller than a month", compliance.Limits{PerMessage: 1000, Month: 5000, Cycle: 3000}, nil, 3000, compliance.CapCycle},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rem, cp := tc.limits.Remaining(c, tc.history, now, time.Time{})
			if rem != tc.rem || cp != tc.cap {
				t.Errorf("Remaining = %d, %s; want %d, %s", rem, cp, tc.rem, tc.cap)
			}
		})
	}
	pac := compliance.Committee{Type: compliance.PAC}
	if _, cp := compliance.DefaultLimits.Remaining(pac, []compliance.Entry{entry(noon(2025, 1, 1), 19000)}, now, time.Time{}); cp != compliance.CapYear {
		t.Errorf("pac binding cap = %s, want %s", cp, compliance.CapYear)
	}
}

func TestCapErrorMessage(t *testing.T) {
	for _, tc := range []struct {
		err  compliance.CapError
		want []string
	}{
		{compliance.CapError{Cap: compliance.CapMonth, Limit: 5000, Used: 3000, Amount: 2500, Remaining: 2000},
			[]string{"$25", "calendar-month cap", "$50", "$30 used", "at most $20"}},
		{compliance.CapError{Cap: compliance.CapMessage, Limit: 2000, Amount: 2500, Remaining: 2000},
			[]string{"$25", "per-message cap", "$20"}},
		{compliance.CapError{Cap: compliance.CapRolling, Limit: 5000, Used: 5000, Amount: 100, Remaining: 0},
			[]string{"31-day cap", "at most $0"}},
		{compliance.CapError{Cap: compliance.CapCycle, Limit: 20000, Used: 19950, Amount: 100, Remaining: 50},
			[]string{"election-cycle cap", "$200", "at most $0.50"}},
		{compliance.CapError{Cap: compliance.CapYear, Limit: 20000}, []string{"calendar-year cap"}},
	} {
		msg := tc.err.Error()
		for _, w := range tc.want {
			if !strings.Contains(msg, w) {
				t.Errorf("%q lacks %q", msg, w)
			}
		}
	}
}

// span is an open reservation not yet certified: it may be dated anywhere
// from at through until.
func span(at, until time.Time, cents int64) compliance.Entry {
	return compliance.Entry{At: at, Until: until, Amount: cents}
}

// TestCheckSpans: SPEC §5.3. A request reserved before the end of a month,
// year or election cycle may be certified, and so dated, after it: it
// counts in both periods until then, and a new amount must fit every period
// it may be dated in.
func TestCheckSpans(t *testing.T) {
	chicago, err := time.LoadLocation("America/Chicago")
	if err != nil {
		t.Fatal(err)
	}
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	at := func(loc *time.Location, y int, m time.Month, d, hh, mm int) time.Time {
		return time.Date(y, m, d, hh, mm, 0, 0, loc)
	}
	apr := func(hh, mm int) time.Time { return at(chicago, 2027, 4, 1, hh, mm) }
	mar31 := func(hh, mm int) time.Time { return at(chicago, 2027, 3, 31, hh, mm) }
	candidate := compliance.Committee{Type: compliance.Candidate, TimeZone: "America/Chicago"}
	notRolling := compliance.DefaultLimits
	notRolling.Rolling = false
	// A $40 year or cycle, so that it binds within a day.
	short := compliance.Limits{PerMessage: 2000, Month: 5000, Cycle: 4000}
	pac := compliance.Committee{Type: compliance.PAC, TimeZone: "America/New_York"}
	nyCandidate := compliance.Committee{Type: compliance.Candidate, TimeZone: "America/New_York"}
	runLimitCases(t, []limitCase{
		{name: "reserved at 23:40 on March 31, open until 00:40: counts in April",
			limits: notRolling, c: candidate, now: apr(0, 6), until: apr(1, 6), amount: 2000,
			history: []compliance.Entry{span(mar31(23, 40), apr(0, 40), 2000), entry(apr(0, 5), 2000)},
			cap:     compliance.CapMonth, used: 4000, rem: 1000},
		{name: "the same in strict mode",
			c: candidate, now: apr(0, 6), until: apr(1, 6), amount: 2000,
			history: []compliance.Entry{span(mar31(23, 40), apr(0, 40), 2000), entry(apr(0, 5), 2000)},
			cap:     compliance.CapMonth, used: 4000, rem: 1000},
		{name: "certified at 23:50 on March 31: March's only",
			limits: notRolling, c: candidate, now: apr(0, 6), until: apr(1, 6), amount: 2000, ok: true,
			history: []compliance.Entry{entry(mar31(23, 50), 2000), entry(apr(0, 5), 2000)}},
		{name: "certified at 00:10 on April 1: April's only",
			limits: notRolling, c: candidate, now: apr(0, 16), until: apr(1, 16), amount: 2000,
			history: []compliance.Entry{entry(apr(0, 10), 2000), entry(apr(0, 5), 2000)},
			cap:     compliance.CapMonth, used: 4000, rem: 1000},
		{name: "expired before midnight: not April's",
			limits: notRolling, c: candidate, now: apr(0, 6), until: apr(1, 6), amount: 2000, ok: true,
			history: []compliance.Entry{span(mar31(22, 0), mar31(23, 0), 2000), entry(apr(0, 5), 2000)}},
		{name: "the open reservation counts in March too",
			limits: notRolling, c: candidate, now: mar31(23, 45), until: apr(0, 45), amount: 500,
			history: []compliance.Entry{entry(mar31(10, 0), 3000), span(mar31(23, 40), apr(0, 40), 2000)},
			cap:     compliance.CapMonth, used: 5000, rem: 0},
		{name: "a new amount may be dated in April: April's use counts",
			limits: notRolling, c: candidate, now: mar31(23, 50), until: apr(0, 50), amount: 500,
			history: []compliance.Entry{entry(apr(0, 10), 5000)}, // from a clock ahead
			cap:     compliance.CapMonth, used: 5000, rem: 0},
		{name: "a fixed date at 23:50 on March 31 is March's",
			limits: notRolling, c: candidate, now: mar31(23, 50), amount: 500, ok: true,
			history: []compliance.Entry{entry(apr(0, 10), 5000)}},
		{name: "month boundary in the committee's zone, not UTC",
			limits: notRolling, c: candidate, now: at(chicago, 2027, 3, 31, 18, 30), until: at(chicago, 2027, 3, 31, 19, 30), amount: 2000, ok: true,
			history: []compliance.Entry{span(at(chicago, 2027, 3, 31, 18, 0), at(chicago, 2027, 3, 31, 19, 0), 2000), entry(apr(0, 5), 5000)}},
		{name: "PAC: reserved on New Year's Eve, open into the new year",
			limits: short, c: pac, now: at(ny, 2027, 1, 1, 0, 6), until: at(ny, 2027, 1, 1, 1, 6), amount: 500,
			history: []compliance.Entry{span(at(ny, 2026, 12, 31, 23, 40), at(ny, 2027, 1, 1, 0, 40), 2000), entry(at(ny, 2027, 1, 1, 0, 5), 2000)},
			cap:     compliance.CapYear, used: 4000, rem: 0},
		{name: "PAC: a new amount on New Year's Eve may be the new year's",
			limits: short, c: pac, now: at(ny, 2026, 12, 31, 23, 50), until: at(ny, 2027, 1, 1, 0, 50), amount: 500,
			history: []compliance.Entry{entry(at(ny, 2027, 1, 1, 0, 10), 4000)},
			cap:     compliance.CapYear, used: 4000, rem: 0},
		{name: "candidate: reserved on election night, open into the new cycle",
			limits: short, c: nyCandidate, now: at(ny, 2026, 11, 4, 0, 6), until: at(ny, 2026, 11, 4, 1, 6), amount: 500,
			history: []compliance.Entry{span(at(ny, 2026, 11, 3, 23, 40), at(ny, 2026, 11, 4, 0, 40), 2000), entry(at(ny, 2026, 11, 4, 0, 5), 2000)},
			cap:     compliance.CapCycle, used: 4000, rem: 0},
		{name: "candidate: certified on election day is the old cycle's",
			limits: short, c: nyCandidate, now: at(ny, 2026, 11, 4, 0, 6), until: at(ny, 2026, 11, 4, 1, 6), amount: 500, ok: true,
			history: []compliance.Entry{entry(at(ny, 2026, 11, 3, 23, 50), 2000), entry(at(ny, 2026, 11, 4, 0, 5), 2000)}},
		{name: "strict: an open reservation that may be dated in the last 31 days counts",
			c: candidate, now: noon(2027, 5, 1), amount: 500,
			history: []compliance.Entry{span(noon(2027, 5, 1).Add(-compliance.RollingWindow-time.Hour), noon(2027, 5, 1).Add(-compliance.RollingWindow+time.Hour), 5000)},
			cap:     compliance.CapRolling, used: 5000, rem: 0},
	})
}

// TestCapsHoldUnderAnyInterleaving: SPEC §5.3 and §10 (2). One donor's
// requests on several short codes around the end of a month, a year and an
// election cycle, reserved, certified, completed, declined and expired in
// random order, on servers whose clocks differ by up to two minutes, never
// complete more than a cap in any calendar month, year, cycle or (strict
// mode) 31 days, whatever dates they take.
func TestCapsHoldUnderAnyInterleaving(t *testing.T) {
	short := compliance.Limits{PerMessage: 2000, Month: 5000, Cycle: 4000}
	for _, sc := range []struct {
		name     string
		c        compliance.Committee
		limits   compliance.Limits
		boundary time.Time
	}{
		{"month", compliance.Committee{Type: compliance.Candidate, TimeZone: "America/Chicago"}, compliance.DefaultLimits,
			time.Date(2027, 4, 1, 5, 0, 0, 0, time.UTC)},
		{"year", compliance.Committee{Type: compliance.PAC, TimeZone: "America/New_York"}, short,
			time.Date(2027, 1, 1, 5, 0, 0, 0, time.UTC)},
		{"cycle", compliance.Committee{Type: compliance.Candidate, TimeZone: "America/New_York"}, short,
			time.Date(2026, 11, 4, 5, 0, 0, 0, time.UTC)},
	} {
		for _, rolling := range []bool{false, true} {
			l := sc.limits
			l.Rolling = rolling
			t.Run(fmt.Sprintf("%s/rolling=%v", sc.name, rolling), func(t *testing.T) {
				rng := rand.New(rand.NewPCG(1, 2))
				for run := range 1000 {
					if log, bad := interleave(rng, sc.c, l, sc.boundary); bad != "" {
						t.Fatalf("run %d: %s\n%s", run, bad, strings.Join(log, "\n"))
					}
				}
			})
		}
	}
}

// interleave simulates one donor's requests around boundary and returns
// its log and, when completed amounts pass a cap, what went wrong.
func interleave(rng *rand.Rand, c compliance.Committee, l compliance.Limits, boundary time.Time) ([]string, string) {
	const expiry = time.Hour
	type request struct {
		e         compliance.Entry
		certified bool
		completed bool
	}
	var (
		open []*request // reserved, not yet completed or gone
		done []compliance.Entry
		log  []string
	)
	history := func() []compliance.Entry {
		h := slices.Clone(done)
		for _, r := range open {
			h = append(h, r.e)
		}
		return h
	}
	base := boundary.Add(-90 * time.Minute)
	for base.Before(boundary.Add(90 * time.Minute)) {
		base = base.Add(time.Duration(rng.IntN(10*60)) * time.Second)
		// Each step runs on some server, whose clock may differ.
		now := base.Add(time.Duration(rng.IntN(4*60)-2*60) * time.Second)
		switch n := rng.IntN(10); {
		case n < 4: // a request reaches an amount: check and reserve
			amount := int64(500 * (1 + rng.IntN(4)))
			err := l.Check(c, history(), now, now.Add(expiry), amount)
			log = append(log, fmt.Sprintf("%s reserve $%s: %v", now.In(c.Location()).Format(time.DateTime), compliance.FormatAmount(amount), err))
			if err == nil {
				open = append(open, &request{e: compliance.Entry{At: now, Until: now.Add(expiry), Amount: amount}})
			}
		case len(open) == 0:
		default:
			i := rng.IntN(len(open))
			r := open[i]
			switch {
			case !r.certified && !now.Before(r.e.Until), n == 9:
				// Expired (a YES after expiry expires first), cancelled or declined.
				open = slices.Delete(open, i, i+1)
				log = append(log, fmt.Sprintf("%s end $%s reserved %s", now.In(c.Location()).Format(time.DateTime), compliance.FormatAmount(r.e.Amount), r.e.At.In(c.Location()).Format(time.DateTime)))
			case !r.certified: // YES: dated now, never before the reservation
				r.certified = true
				if now.After(r.e.At) {
					r.e.At = now
				}
				r.e.Until = time.Time{}
				log = append(log, fmt.Sprintf("%s certify $%s: dated %s", now.In(c.Location()).Format(time.DateTime), compliance.FormatAmount(r.e.Amount), r.e.At.In(c.Location()).Format(time.DateTime)))
			default: // PIN and charge
				open = slices.Delete(open, i, i+1)
				done = append(done, r.e)
				log = append(log, fmt.Sprintf("%s complete $%s dated %s", now.In(c.Location()).Format(time.DateTime), compliance.FormatAmount(r.e.Amount), r.e.At.In(c.Location()).Format(time.DateTime)))
			}
		}
	}
	// Whatever is still open completes at its latest date.
	for _, r := range open {
		if !r.certified {
			r.e.At = r.e.Until.Add(-time.Second)
		}
		done = append(done, compliance.Entry{At: r.e.At, Amount: r.e.Amount})
	}
	loc := c.Location()
	months := map[string]int64{}
	periods := map[time.Time]int64{}
	for _, e := range done {
		months[e.At.In(loc).Format("2006-01")] += e.Amount
		start, _ := c.Period(e.At)
		periods[start] += e.Amount
		var window int64
		for _, o := range done {
			if !o.At.After(e.At) && o.At.After(e.At.Add(-compliance.RollingWindow)) {
				window += o.Amount
			}
		}
		if l.Rolling && window > l.Month {
			return log, fmt.Sprintf("$%s in the 31 days to %s", compliance.FormatAmount(window), e.At)
		}
	}
	for m, sum := range months {
		if sum > l.Month {
			return log, fmt.Sprintf("$%s in %s", compliance.FormatAmount(sum), m)
		}
	}
	for start, sum := range periods {
		if sum > l.Cycle {
			return log, fmt.Sprintf("$%s in the period from %s", compliance.FormatAmount(sum), start)
		}
	}
	return log, ""
}
