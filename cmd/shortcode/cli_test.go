package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/alecthomas/kong"

	"github.com/shortcode/shortcode/storage"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/cli")

// result is what one run of the shortcode binary did.
type result struct {
	stdout, stderr string
	code           int
}

// shortcode runs the built binary with args in dir (a new temporary
// directory when ""), with no SHORTCODE_* variables but env.
func shortcode(t *testing.T, dir string, env []string, args ...string) result {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	cmd := exec.Command(binary(t), args...)
	cmd.Dir = dir
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "USER=tester"}, env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.Stdin = strings.NewReader("")
	err := cmd.Run()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("shortcode %q: %v", args, err)
	}
	return result{stdout: stdout.String(), stderr: stderr.String(), code: cmd.ProcessState.ExitCode()}
}

// want checks the exit status of a run and that stderr has no more than
// one error line (and its hint).
func (r result) want(t *testing.T, code int, args ...string) {
	t.Helper()
	if r.code != code {
		t.Errorf("shortcode %q: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", args, r.code, code, r.stdout, r.stderr)
	}
	if n := strings.Count(r.stderr, "shortcode:"); code != 0 && n != 1 {
		t.Errorf("shortcode %q: %d error lines, want 1:\n%s", args, n, r.stderr)
	}
}

// commandPaths returns every command of the grammar, e.g. "token create".
func commandPaths(t *testing.T) []string {
	t.Helper()
	p, err := newParser(new(cli), io.Discard, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	var visit func(n *kong.Node)
	visit = func(n *kong.Node) {
		for _, c := range n.Children {
			if c.Type == kong.CommandNode {
				paths = append(paths, strings.TrimPrefix(c.FullPath(), "shortcode "))
				visit(c)
			}
		}
	}
	visit(p.Model.Node)
	return paths
}

// TestHelpEverywhere: -h and --help exit 0 on every command, and list its
// verbs and flags with their types, and an example.
func TestHelpEverywhere(t *testing.T) {
	paths := commandPaths(t)
	if len(paths) < 8 {
		t.Fatalf("only %d commands: %q", len(paths), paths)
	}
	for _, path := range append([]string{""}, paths...) {
		args := strings.Fields(path)
		for _, h := range []string{"-h", "--help"} {
			r := shortcode(t, "", nil, append(args, h)...)
			r.want(t, 0, append(args, h)...)
			if r.stderr != "" {
				t.Errorf("shortcode %s %s wrote to stderr:\n%s", path, h, r.stderr)
			}
			if !strings.HasPrefix(r.stdout, strings.Join(append([]string{"Usage: shortcode"}, args...), " ")) {
				t.Errorf("shortcode %s %s:\n%s", path, h, r.stdout)
			}
			if path != "" && !strings.Contains(r.stdout, "\nExamples:\n\n    shortcode ") {
				t.Errorf("shortcode %s %s shows no example:\n%s", path, h, r.stdout)
			}
			for _, sub := range paths {
				if strings.HasPrefix(sub, path+" ") && path != "" && !regexp.MustCompile(`(?m)^  `+regexp.QuoteMeta(sub)+`( |$)`).MatchString(r.stdout) {
					t.Errorf("shortcode %s %s does not list %q:\n%s", path, h, sub, r.stdout)
				}
			}
			if regexp.MustCompile(`--[a-z-]+=STRING\b.*\n.*(timeout|lease|latency|backoff|within|idle|rate-limit|max-conns)`).MatchString(r.stdout) {
				t.Errorf("shortcode %s %s shows a typed flag as a string:\n%s", path, h, r.stdout)
			}
		}
	}
	// help COMMAND is the same as COMMAND --help.
	got, want := shortcode(t, "", nil, "help", "token", "create"), shortcode(t, "", nil, "token", "create", "--help")
	if got.code != 0 || got.stdout != want.stdout {
		t.Errorf("help token create: exit %d\n%s\nwant\n%s", got.code, got.stdout, want.stdout)
	}
	r := shortcode(t, "", nil, "serve", "--help")
	for _, typed := range []string{"--rate-limit=INT", "--charge-lease=DURATION", "--log-format=text|json", "--log-level=debug|info|warn|error", "$SHORTCODE_DB"} {
		if !strings.Contains(r.stdout, typed) {
			t.Errorf("serve --help lacks %s:\n%s", typed, r.stdout)
		}
	}
}

// TestExitCodes: 0 on success, 1 on failure, 2 on usage errors, with one
// error line and, for usage errors, a hint.
func TestExitCodes(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "ok.db")
	tests := []struct {
		args []string
		env  []string
		code int
		err  string // in stderr
	}{
		{args: []string{"version"}},
		{args: []string{"--version"}},
		{args: []string{"help"}},
		{args: []string{"migrate", "--db", db}},
		{args: []string{"token", "list", "--db", db}},
		{args: []string{"token", "list"}, env: []string{"SHORTCODE_DB=" + db}},

		{args: nil, code: 2, err: "no command given"},
		{args: []string{"bogus"}, code: 2, err: `unexpected argument bogus`},
		{args: []string{"servee"}, code: 2, err: `did you mean "serve"?`},
		{args: []string{"serve", "--nope"}, code: 2, err: "unknown flag --nope"},
		{args: []string{"serve", "--rate-limit", "ten"}, code: 2, err: "--rate-limit"},
		{args: []string{"serve", "--rate-limit", "0"}, code: 2, err: "--rate-limit 0"},
		{args: []string{"serve", "--senders", "0"}, code: 2, err: "--senders 0"},
		{args: []string{"serve"}, env: []string{"SHORTCODE_CHARGE_LEASE=soon"}, code: 2, err: "--charge-lease"},
		{args: []string{"serve", "--log-level", "loud"}, code: 2, err: "--log-level"},
		{args: []string{"sim"}, code: 2, err: "--twilio-auth-token is required"},
		{args: []string{"text"}, code: 2, err: "--from"},
		{args: []string{"text", "--from", "+12125550100", "--idle", "0s"}, code: 2, err: "--idle"},
		{args: []string{"token"}, code: 2, err: `expected one of "create", "list", "revoke"`},
		{args: []string{"token", "create", "--db", db, "--name", "x"}, code: 2, err: "--role"},
		{args: []string{"token", "create", "--db", db, "--name", "x", "--role", "root"}, code: 2, err: "--role"},
		{args: []string{"token", "list"}, code: 2, err: "--db"},
		{args: []string{"token", "list", "--db", db, "--token", "sc_x"}, code: 2, err: "give one of them"},
		{args: []string{"token", "revoke", "--db", db}, code: 2, err: "<id>"},
		{args: []string{"refund", "list"}, code: 2, err: "--token is required"},
		{args: []string{"refund", "D1", "--reason", "because", "--token", "sc_x"}, code: 2, err: "--reason"},
		{args: []string{"forward", "due", "--within", "soon", "--token", "sc_x"}, code: 2, err: "--within"},
		{args: []string{"forward", "record", "--committee", "C99999999", "--reference", "W", "--amount", "1e5", "--token", "sc_x"}, code: 2, err: "--amount"},
		{args: []string{"donations", "list", "--from", "03/01/2027", "--token", "sc_x"}, code: 2, err: "--from"},
		{args: []string{"settle", "import", "x.csv", "--token", "sc_x"}, code: 2, err: "--carrier"},
		{args: []string{"refund", "list"}, env: []string{"SHORTCODE_REASON=prohibited", "SHORTCODE_JSON=1"}, code: 2, err: "--token is required"},

		{args: []string{"token", "revoke", "--db", db, "tok_nosuch"}, code: 1, err: "not found"},
		{args: []string{"settle", "import", "no-such.csv", "--carrier", "SimMobile", "--token", "sc_x"}, code: 1, err: "no-such.csv"},
		{args: []string{"program", "save", "no-such.json", "--token", "sc_x"}, code: 1, err: "no-such.json"},
		{args: []string{"token", "list", "--token", "sc_" + strings.Repeat("a", 32), "--server", "http://" + freeAddr(t)}, code: 1, err: "no answer from a shortcode server"},
		{args: []string{"token", "list", "--token", "sc_x", "--server", "ftp://x"}, code: 2, err: "--server"},
		{args: []string{"text", "--from", "+12125550100", "--sim", "http://" + freeAddr(t)}, code: 1, err: "simulator"},
		{args: []string{"migrate", "--db", filepath.Join(dir, "no", "such", "dir", "x.db")}, code: 1},
	}
	for _, tt := range tests {
		r := shortcode(t, dir, tt.env, tt.args...)
		r.want(t, tt.code, tt.args...)
		if !strings.Contains(r.stderr, tt.err) {
			t.Errorf("shortcode %q: stderr lacks %q:\n%s", tt.args, tt.err, r.stderr)
		}
		if tt.code == 2 && !strings.Contains(r.stderr, "--help") {
			t.Errorf("shortcode %q: a usage error with no hint:\n%s", tt.args, r.stderr)
		}
	}
}

// TestWrongFolder: a local command pointed at a database that is not there
// says so and exits 1, and creates nothing; one not migrated, likewise.
func TestWrongFolder(t *testing.T) {
	dir := t.TempDir()
	for _, args := range [][]string{
		{"token", "list", "--db", "shortcode.db"},
		{"token", "create", "--db", "shortcode.db", "--role", "admin", "--name", "x"},
		{"token", "revoke", "--db", "shortcode.db", "tok_x"},
	} {
		r := shortcode(t, dir, nil, args...)
		r.want(t, 1, args...)
		if !strings.Contains(r.stderr, "no database at shortcode.db") {
			t.Errorf("shortcode %q: %s", args, r.stderr)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("the commands left %v in the folder", entries)
	}

	empty := filepath.Join(dir, "empty.db")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	r := shortcode(t, dir, nil, "token", "list", "--db", empty)
	r.want(t, 1)
	if !strings.Contains(r.stderr, "migrations pending") {
		t.Errorf("unmigrated database: %s", r.stderr)
	}
}

// TestTokenLifecycle: the first admin token is made on the database; with
// it, a treasurer token through the API; the list never shows a secret;
// the treasurer may not manage tokens; a revoked token is refused.
func TestTokenLifecycle(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "tokens.db")
	shortcode(t, dir, nil, "migrate", "--db", db).want(t, 0)

	first := shortcode(t, dir, nil, "token", "create", "--db", db, "--role", "admin", "--name", "first admin")
	first.want(t, 0)
	admin := strings.TrimSpace(first.stdout)
	if !regexp.MustCompile(`^sc_[a-z2-7]{32}$`).MatchString(admin) {
		t.Fatalf("token create printed %q, want the secret alone", first.stdout)
	}
	if !strings.Contains(first.stderr, "Keep its secret safe") {
		t.Errorf("token create: no word to keep the secret: %q", first.stderr)
	}

	addr := freeAddr(t)
	srv := serve(t, addr, "--db", db, "--sim-addr", freeAddr(t))
	api := []string{"SHORTCODE_SERVER=" + srv.url, "SHORTCODE_TOKEN=" + admin}

	made := shortcode(t, dir, api, "token", "create", "--role", "treasurer", "--name", "Pat", "--json")
	made.want(t, 0)
	var tok struct{ ID, Secret string }
	if err := json.Unmarshal([]byte(made.stdout), &tok); err != nil || tok.Secret == "" || tok.ID == "" {
		t.Fatalf("token create --json: %q (%v)", made.stdout, err)
	}

	list := shortcode(t, dir, api, "token", "list", "--json")
	list.want(t, 0)
	golden(t, "token-list.json", list.stdout)
	table := shortcode(t, dir, api, "token", "list")
	table.want(t, 0)
	for _, out := range []string{list.stdout, table.stdout, made.stderr} {
		if strings.Contains(out, admin) || strings.Contains(out, tok.Secret) {
			t.Errorf("a secret is shown:\n%s", out)
		}
	}
	if !regexp.MustCompile(`(?m)^TOKEN\s+NAME\s+ROLE\s+CREATED\s+REVOKED\n.*first admin\s+admin\s.*\n.*Pat\s+treasurer\s`).MatchString(table.stdout) {
		t.Errorf("token list:\n%s", table.stdout)
	}

	// The treasurer may not list tokens: the problem's detail, once, exit 1.
	r := shortcode(t, dir, []string{"SHORTCODE_SERVER=" + srv.url, "SHORTCODE_TOKEN=" + tok.Secret}, "token", "list")
	r.want(t, 1)
	if !strings.Contains(r.stderr, "a treasurer token may not do this (needs admin)") || !strings.Contains(r.stderr, "403") {
		t.Errorf("treasurer lists tokens: %s", r.stderr)
	}

	shortcode(t, dir, api, "token", "revoke", tok.ID).want(t, 0)
	r = shortcode(t, dir, []string{"SHORTCODE_SERVER=" + srv.url, "SHORTCODE_TOKEN=" + tok.Secret}, "token", "list")
	r.want(t, 1)
	if !strings.Contains(r.stderr, "token revoked") || !strings.Contains(r.stderr, "401") {
		t.Errorf("revoked token: %s", r.stderr)
	}
	r = shortcode(t, dir, api, "token", "revoke", "tok_nosuch")
	r.want(t, 1)
	if !strings.Contains(r.stderr, "not found") {
		t.Errorf("revoke an unknown token: %s", r.stderr)
	}

	// Locally, the same list, the revocation included; the action log
	// names the local user and the admin token.
	local := shortcode(t, dir, nil, "token", "list", "--db", db, "--json")
	local.want(t, 0)
	var toks []map[string]any
	if err := json.Unmarshal([]byte(local.stdout), &toks); err != nil || len(toks) != 2 || toks[1]["revoked_at"] == nil {
		t.Errorf("local token list: %s (%v)", local.stdout, err)
	}
	srv.stop()
	store, err := storage.Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	acts, err := store.Actions(context.Background())
	log := fmt.Sprint(acts)
	if err != nil || strings.Count(log, localActor()+" token.create") != 1 ||
		strings.Count(log, "(first admin) token.create") != 1 || strings.Count(log, "(first admin) token.revoke") != 1 {
		t.Errorf("action log: %s (%v), want the local user's create, the admin token's create and revoke", log, err)
	}
}

var (
	reTokenID = regexp.MustCompile(`tok_[a-z2-7]{16}`)
	reTime    = regexp.MustCompile(`"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z"`)
)

// golden compares got, with ids and times replaced, to testdata/cli/name
// (rewritten with -update).
func golden(t *testing.T, name, got string) {
	t.Helper()
	got = reTime.ReplaceAllString(reTokenID.ReplaceAllString(got, "tok_ID"), `"TIME"`)
	path := filepath.Join("testdata", "cli", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to write it)", err)
	}
	if got != string(want) {
		t.Errorf("%s: got\n%s\nwant\n%s", name, got, want)
	}
}

// TestLogFlags: serve and sim log JSON lines with --log-format json, and
// only from --log-level up.
func TestLogFlags(t *testing.T) {
	s := serve(t, freeAddr(t), "--db", filepath.Join(t.TempDir(), "log.db"), "--sim-addr", freeAddr(t), "--log-format", "json")
	s.stop()
	lines := strings.Split(strings.TrimSpace(s.out.String()), "\n")
	listening := false
	for _, l := range lines {
		var line struct{ Level, Msg string }
		if err := json.Unmarshal([]byte(l), &line); err != nil {
			t.Errorf("serve --log-format json wrote %q: %v", l, err)
		}
		listening = listening || line.Msg == "shortcode listening"
	}
	if !listening {
		t.Errorf("no listening line:\n%s", s.out)
	}

	s = serve(t, freeAddr(t), "--db", filepath.Join(t.TempDir(), "log.db"), "--sim-addr", freeAddr(t), "--log-level", "warn")
	s.stop()
	if strings.Contains(s.out.String(), "level=INFO") {
		t.Errorf("serve --log-level warn logged INFO:\n%s", s.out)
	}

	ctx, cancel := context.WithCancel(context.Background())
	logs := &lockedBuffer{}
	done := make(chan error, 1)
	go func() {
		done <- runSim(ctx, []string{"--addr", "127.0.0.1:0", "--twilio-auth-token", "tok", "--log-format", "json"}, logs)
	}()
	for deadline := time.Now().Add(5 * time.Second); !strings.Contains(logs.String(), `"msg":"simulator listening"`); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("sim --log-format json: no JSON listening line:\n%s", logs)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("sim: %v", err)
	}
}
