package httpserver

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/shortcode/shortcode/donation"
)

// Query returns a request's query parameters, refusing any not in allowed
// and any given twice: a misspelt filter must not silently select
// everything.
func Query(r *http.Request, allowed ...string) (url.Values, error) {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, fmt.Errorf("query: %v: %w", err, donation.ErrInvalid)
	}
	for name, vs := range q {
		known := false
		for _, a := range allowed {
			known = known || a == name
		}
		switch {
		case !known:
			return nil, fmt.Errorf("query parameter %.40q: unknown (want %s): %w", name, strings.Join(allowed, ", "), donation.ErrInvalid)
		case len(vs) > 1:
			return nil, fmt.Errorf("query parameter %q: given %d times: %w", name, len(vs), donation.ErrInvalid)
		}
	}
	return q, nil
}

// ParseDate reads a date, YYYY-MM-DD, as midnight in loc; "" is the zero
// time.
func ParseDate(name, s string, loc *time.Location) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	d, err := time.ParseInLocation(time.DateOnly, s, loc)
	if err != nil {
		return time.Time{}, fmt.Errorf("%s %.40q: want a date, YYYY-MM-DD: %w", name, s, donation.ErrInvalid)
	}
	return d, nil
}

// maxDuration bounds ParseDuration: a year and a day.
const maxDuration = 366 * 24 * time.Hour

var days = regexp.MustCompile(`^([0-9]{1,3})d(.*)$`)

// ParseDuration reads a duration as time.ParseDuration does, with days
// too: "10d", "1d12h", "72h". Negative durations and ones over a year are
// refused.
func ParseDuration(name, s string) (time.Duration, error) {
	bad := fmt.Errorf("%s %.40q: want a duration such as 10d or 72h, up to 366d: %w", name, s, donation.ErrInvalid)
	var d time.Duration
	rest := s
	if m := days.FindStringSubmatch(s); m != nil {
		n, _ := strconv.Atoi(m[1])
		d, rest = time.Duration(n)*24*time.Hour, m[2]
	}
	if rest != "" {
		more, err := time.ParseDuration(rest)
		if err != nil || (d > 0 && strings.HasPrefix(rest, "-")) {
			return 0, bad
		}
		d += more
	}
	if s == "" || d < 0 || d > maxDuration {
		return 0, bad
	}
	return d, nil
}
