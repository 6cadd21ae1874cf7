package compliance_test

import (
	"testing"
	"time"

	"github.com/shortcode/shortcode/compliance"
)

func TestGeneralElection(t *testing.T) {
	for year, want := range map[int]time.Time{
		2016: day(2016, 11, 8),
		2018: day(2018, 11, 6),
		2020: day(2020, 11, 3),
		2022: day(2022, 11, 8),
		2024: day(2024, 11, 5),
		2026: day(2026, 11, 3),
		2028: day(2028, 11, 7),
		2030: day(2030, 11, 5),
		2032: day(2032, 11, 2), // November 1 is a Monday: the Tuesday after it
		2038: day(2038, 11, 2),
		2021: day(2022, 11, 8), // odd years: the next even year's
		2025: day(2026, 11, 3),
		2027: day(2028, 11, 7),
	} {
		got := compliance.GeneralElection(year)
		if !got.Equal(want) || got.Location() != time.UTC {
			t.Errorf("GeneralElection(%d) = %v, want %v", year, got, want)
		}
		if got.Weekday() != time.Tuesday {
			t.Errorf("GeneralElection(%d) is a %v", year, got.Weekday())
		}
	}
	// Always November 2–8.
	for y := 1900; y <= 2200; y += 2 {
		g := compliance.GeneralElection(y)
		if g.Month() != time.November || g.Day() < 2 || g.Day() > 8 || g.Weekday() != time.Tuesday {
			t.Fatalf("GeneralElection(%d) = %v", y, g)
		}
	}
}

func mustLoad(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func TestLocation(t *testing.T) {
	for tz, want := range map[string]string{
		"":                  "UTC",
		"America/New_York":  "America/New_York",
		"Mars/Olympus_Mons": "UTC",
	} {
		c := compliance.Committee{TimeZone: tz}
		if got := c.Location().String(); got != want {
			t.Errorf("Location(%q) = %s, want %s", tz, got, want)
		}
		if c.Location() == nil {
			t.Errorf("Location(%q) = nil", tz)
		}
	}
}

func TestPeriod(t *testing.T) {
	ny := mustLoad(t, "America/New_York")
	at := func(s string) time.Time {
		tt, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return tt
	}
	candidate := compliance.Committee{Type: compliance.Candidate}
	candidateNY := compliance.Committee{Type: compliance.Candidate, TimeZone: "America/New_York"}
	special := candidate // a special election in March 2026 ends the configured cycle early
	special.PreviousElection, special.NextElection = day(2024, 11, 5), day(2026, 3, 10)
	lateStart := candidate // a cycle configured to begin mid-2025
	lateStart.PreviousElection, lateStart.NextElection = day(2025, 6, 1), day(2026, 11, 3)
	pac := compliance.Committee{Type: compliance.PAC}
	pacNY := compliance.Committee{Type: compliance.PAC, TimeZone: "America/New_York"}
	for _, tc := range []struct {
		name       string
		c          compliance.Committee
		t          time.Time
		start, end time.Time
	}{
		{"candidate mid-cycle", candidate, at("2025-06-01T12:00:00Z"), day(2024, 11, 6), day(2026, 11, 4)},
		{"candidate first day of cycle", candidate, at("2024-11-06T00:00:00Z"), day(2024, 11, 6), day(2026, 11, 4)},
		{"candidate election day", candidate, at("2026-11-03T23:59:59Z"), day(2024, 11, 6), day(2026, 11, 4)},
		{"candidate day after the election", candidate, at("2026-11-04T00:00:00Z"), day(2026, 11, 4), day(2028, 11, 8)},
		{"candidate in an election year before November", candidate, at("2026-01-01T00:00:00Z"), day(2024, 11, 6), day(2026, 11, 4)},
		{"candidate, odd year after November", candidate, at("2025-12-31T00:00:00Z"), day(2024, 11, 6), day(2026, 11, 4)},
		{"candidate in New York, election night", candidateNY, at("2026-11-04T04:59:59Z"),
			time.Date(2024, 11, 6, 0, 0, 0, 0, ny), time.Date(2026, 11, 4, 0, 0, 0, 0, ny)},
		{"candidate in New York, next morning", candidateNY, at("2026-11-04T05:00:00Z"),
			time.Date(2026, 11, 4, 0, 0, 0, 0, ny), time.Date(2028, 11, 8, 0, 0, 0, 0, ny)},
		{"configured cycle", special, at("2026-02-01T00:00:00Z"), day(2024, 11, 6), day(2026, 3, 11)},
		{"after the configured cycle", special, at("2026-04-01T00:00:00Z"), day(2026, 3, 11), day(2026, 11, 4)},
		{"after the configured cycle, next general cycle", special, at("2027-04-01T00:00:00Z"), day(2026, 11, 4), day(2028, 11, 8)},
		{"before the configured cycle", lateStart, at("2025-01-01T00:00:00Z"), day(2024, 11, 6), day(2025, 6, 2)},
		{"in the late configured cycle", lateStart, at("2025-06-02T00:00:00Z"), day(2025, 6, 2), day(2026, 11, 4)},
		{"pac", pac, at("2026-07-04T12:00:00Z"), day(2026, 1, 1), day(2027, 1, 1)},
		{"pac, new year's eve in New York", pacNY, at("2027-01-01T04:59:59Z"),
			time.Date(2026, 1, 1, 0, 0, 0, 0, ny), time.Date(2027, 1, 1, 0, 0, 0, 0, ny)},
		{"pac, new year in New York", pacNY, at("2027-01-01T05:00:00Z"),
			time.Date(2027, 1, 1, 0, 0, 0, 0, ny), time.Date(2028, 1, 1, 0, 0, 0, 0, ny)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start, end := tc.c.Period(tc.t)
			if !start.Equal(tc.start) || !end.Equal(tc.end) {
				t.Errorf("Period(%v) = [%v, %v), want [%v, %v)", tc.t, start, end, tc.start.UTC(), tc.end.UTC())
			}
			if start.Location() != time.UTC || end.Location() != time.UTC {
				t.Errorf("Period returned non-UTC times %v, %v", start, end)
			}
			if tc.t.Before(start) || !tc.t.Before(end) {
				t.Errorf("t %v is not in [%v, %v)", tc.t, start, end)
			}
		})
	}
}

// Consecutive periods tile time: the end of one is the start of the next.
func TestPeriodsTile(t *testing.T) {
	committees := []compliance.Committee{
		{Type: compliance.Candidate},
		{Type: compliance.Candidate, TimeZone: "America/Los_Angeles"},
		{Type: compliance.Candidate, PreviousElection: day(2024, 11, 5), NextElection: day(2026, 3, 10)},
		{Type: compliance.PAC, TimeZone: "Pacific/Honolulu"},
	}
	for _, c := range committees {
		tt := time.Date(2023, 1, 1, 0, 0, 0, 0, time.UTC)
		_, end := c.Period(tt)
		for range 8 {
			start, next := c.Period(end)
			if !start.Equal(end) {
				t.Fatalf("%+v: period after %v starts at %v", c, end, start)
			}
			if !next.After(start) {
				t.Fatalf("%+v: empty period [%v, %v)", c, start, next)
			}
			end = next
		}
	}
}
