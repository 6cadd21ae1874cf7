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

func TestWithoutSeqScans(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"postgres://u@h/db?sslmode=disable", "postgres://u@h/db?options=-c+enable_seqscan%3Doff&sslmode=disable"},
		// The operator's own options stay, first.
		{"postgres://u@h/db?options=-c%20statement_timeout%3D5s",
			"postgres://u@h/db?options=-c+statement_timeout%3D5s+-c+enable_seqscan%3Doff"},
		{"postgres://u@h:port/db", "postgres://u@h:port/db"},
	} {
		if got := withoutSeqScans(tc.in); got != tc.want {
			t.Errorf("withoutSeqScans(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
