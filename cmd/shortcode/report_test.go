package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/shortcode/shortcode/compliance"
	"github.com/shortcode/shortcode/donation/auth"
)

// TestReportCommands: the treasurer's reports through the API of a
// running server: the contributions of today in CSV to a file and in JSON
// to stdout, nothing on stderr when it is not a terminal; bad input is an
// error, exit 1, and leaves no file behind.
func TestReportCommands(t *testing.T) {
	m := fastMain(t, testDriver())
	dir := t.TempDir()
	env := []string{"SHORTCODE_SERVER=" + m.URL, "SHORTCODE_TOKEN=" + tokenFor(t, m, auth.Treasurer)}
	sc := func(code int, args ...string) result {
		t.Helper()
		r := shortcode(t, dir, env, args...)
		r.want(t, code, args...)
		return r
	}
	ids := []string{give(t, m, "+12125550130", "10"), give(t, m, "+12125550131", "5")}
	today := time.Now().UTC().Format(time.DateOnly)
	period := []string{"--committee", "C99999999", "--from", today, "--to", today}

	out := filepath.Join(dir, "today.csv")
	r := sc(0, append([]string{"report", "contributions", "--output", out}, period...)...)
	if r.stdout != "" || r.stderr != "" {
		t.Errorf("report to a file printed:\n%s\n%s", r.stdout, r.stderr)
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(f).ReadAll()
	f.Close()
	if err != nil || len(recs) != 3 || recs[1][0] != ids[0] || recs[2][0] != ids[1] || recs[1][2] != "10.00" || recs[2][2] != "5.00" {
		t.Errorf("today.csv: %v\n%q", err, recs)
	}

	r = sc(0, append([]string{"report", "contributions", "--format", "json"}, period...)...)
	var rows []map[string]string
	if err := json.Unmarshal([]byte(r.stdout), &rows); err != nil || len(rows) != 2 || rows[0]["phone"] != "+12125550130" {
		t.Errorf("JSON: %v\n%s", err, r.stdout)
	}
	if r.stderr != "" {
		t.Errorf("a progress bar on a pipe: %q", r.stderr)
	}

	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--committee", "C12345678", "--from", today, "--to", today}, "not found"},
		{[]string{"--committee", "C99999999", "--from", "2027-03-31", "--to", "2027-03-01"}, "after"},
		{[]string{"--committee", "C99999999", "--from", "2026-12-01", "--to", "2027-01-31"}, "spans the reporting years"},
		{append([]string{"--format", "xlsx"}, period...), "want csv or json"},
	} {
		bad := filepath.Join(dir, "bad.csv")
		r := sc(1, append([]string{"report", "contributions", "--output", bad}, tt.args...)...)
		if !strings.Contains(r.stderr, tt.want) {
			t.Errorf("%q: %s, want %q", tt.args, r.stderr, tt.want)
		}
		if left, _ := filepath.Glob(filepath.Join(dir, "*bad*")); len(left) != 0 {
			t.Errorf("%q left %q behind", tt.args, left)
		}
	}
	if r := sc(1, append([]string{"report", "contributions", "--token", "sc_" + strings.Repeat("b", 32)}, period...)...); !strings.Contains(r.stderr, "401") {
		t.Errorf("unknown token: %s", r.stderr)
	}

	// The summary: both gifts unitemized, on the demo committee's F3.
	r = sc(0, append([]string{"report", "summary"}, period...)...)
	if !strings.Contains(r.stdout, "Contributions: 2, $15.00 gross") || !regexp.MustCompile(`11\(a\)\(ii\)\s+\$15\.00\s+34\s`).MatchString(r.stdout) {
		t.Errorf("summary:\n%s", r.stdout)
	}
	if r := sc(1, append([]string{"report", "summary", "--form", "F3P"}, period...)...); !strings.Contains(r.stderr, "want F3X or F3") {
		t.Errorf("summary --form F3P: %s", r.stderr)
	}

	// The .fec: refused while the committee has no treasurer, no file left.
	fec := filepath.Join(dir, "today.fec")
	for _, args := range [][]string{{"--form", "F3"}, {"--form", "F3P"}, {"--from", today, "--to", "2020-01-01"}} {
		all := append(append([]string{"report", "fec", "--output", fec}, period...), args...)
		r := sc(1, all...)
		if _, err := os.Stat(fec); err == nil || r.stderr == "" {
			t.Errorf("%q: %s; a file was left: %v", args, r.stderr, err == nil)
		}
		if left, _ := filepath.Glob(filepath.Join(dir, ".today.fec*")); len(left) != 0 {
			t.Errorf("%q left %q", args, left)
		}
	}
	ctx := context.Background()
	p, err := m.Store.Program(ctx, "demo")
	if err != nil {
		t.Fatal(err)
	}
	p.Committee.Treasurer = compliance.Person{Last: "Treasurer", First: "Pat"}
	p.Committee.Address = compliance.Address{Street1: "1 Main St", City: "Washington", State: "DC", ZIP: "20001"}
	if err := m.Store.SaveProgram(ctx, p); err != nil {
		t.Fatal(err)
	}
	r = sc(0, append([]string{"report", "fec", "--output", fec, "--form", "F3X"}, period...)...)
	b, err := os.ReadFile(fec)
	if err != nil || !strings.HasPrefix(string(b), "HDR\x1cFEC\x1c8.5\x1c") || !strings.Contains(string(b), "\r\nF3XN\x1cC99999999\x1c") ||
		strings.Contains(string(b), "SA11AI") || !strings.Contains(r.stderr, "only the committee's text-message contributions") {
		t.Errorf("fec: %v\n%q\n%s", err, b, r.stderr)
	}
}
