package storage

import "testing"

func TestWithOneRoundTrip(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"postgres://u@h:5432/db?sslmode=disable", "postgres://u@h:5432/db?binary_parameters=yes&sslmode=disable"},
		{"postgres://u@h/db", "postgres://u@h/db?binary_parameters=yes"},
		// The operator's own choice stays.
		{"postgres://u@h/db?binary_parameters=no", "postgres://u@h/db?binary_parameters=no"},
		// lib/pq reports a DSN it cannot read; we do not hide it.
		{"postgres://u@h:port/db", "postgres://u@h:port/db"},
	} {
		if got := withOneRoundTrip(tc.in); got != tc.want {
			t.Errorf("withOneRoundTrip(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
