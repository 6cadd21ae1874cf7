package httpserver_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/shortcode/shortcode/donation/auth"
	"github.com/shortcode/shortcode/donation/httpserver"
	"github.com/shortcode/shortcode/storage"
	"github.com/shortcode/shortcode/storage/storagetest"
)

var t0 = time.Date(2027, 3, 10, 15, 0, 0, 0, time.UTC)

// env is a server on loopback over a real store, with a token per role.
type env struct {
	t      *testing.T
	db     *storage.DB
	srv    *httptest.Server
	hs     *httpserver.Server
	logs   *bytes.Buffer
	tokens map[string]string // role (or "revoked") -> secret
}

func newEnv(t *testing.T, db *storage.DB) *env {
	t.Helper()
	logs := &bytes.Buffer{}
	hs := httpserver.New(slog.New(slog.NewTextHandler(logs, nil)), db, db.Ready, "v-test")
	hs.TokenRoutes(db, func() time.Time { return t0 }, nil)
	e := &env{t: t, db: db, hs: hs, logs: logs, tokens: map[string]string{}}
	for _, mount := range mounts {
		mount(e)
	}
	e.srv = httptest.NewServer(hs.Handler())
	t.Cleanup(e.srv.Close)
	for _, role := range auth.Roles {
		e.tokens[string(role)] = e.token(string(role), role)
	}
	e.tokens["revoked"] = e.token("revoked", auth.Admin)
	e.tokens["victim"] = e.token("victim", auth.Auditor) // for the revoke route
	toks, _ := db.Tokens(context.Background())
	for _, tok := range toks {
		if tok.Name == "revoked" {
			if _, err := db.RevokeToken(context.Background(), tok.ID, t0, "test"); err != nil {
				t.Fatal(err)
			}
		}
	}
	return e
}

func (e *env) token(name string, role auth.Role) string {
	e.t.Helper()
	tok, secret, hash, err := auth.New(nil, name, role, t0)
	if err != nil {
		e.t.Fatal(err)
	}
	if err := e.db.CreateToken(context.Background(), tok, hash, "test"); err != nil {
		e.t.Fatal(err)
	}
	return secret
}

type answer struct {
	status int
	header http.Header
	body   string
}

func (e *env) do(method, path, token, body string) answer {
	e.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, e.srv.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{resp.StatusCode, resp.Header, string(b)}
}

// route is one API route with a request that succeeds for an allowed role.
type route struct {
	method, path, body string
	roles              []auth.Role
}

// Each route group's test file adds, in an init function, how to mount the
// group on a test server (mounts) and its routes (routeTables), so that
// every test here covers every group.
var (
	mounts      []func(*env)
	routeTables = []func(*env) []route{tokenRoutes}
)

// apiRoutes lists every route under /api/ with the roles that may use it.
// TestEveryRouteDeclared fails when a route is missing here.
func apiRoutes(e *env) []route {
	var all []route
	for _, table := range routeTables {
		all = append(all, table(e)...)
	}
	return all
}

func tokenRoutes(e *env) []route {
	admin := []auth.Role{auth.Admin}
	var victim string
	toks, _ := e.db.Tokens(context.Background())
	for _, tok := range toks {
		if tok.Name == "victim" {
			victim = tok.ID
		}
	}
	return []route{
		{"GET", "/api/v1/tokens", "", admin},
		{"POST", "/api/v1/tokens", `{"name":"ci","role":"auditor"}`, admin},
		{"POST", "/api/v1/tokens/" + victim + "/revoke", "", admin},
	}
}

// TestRolesOnEveryRoute: SPEC §11. Every API route refuses a missing,
// malformed, unknown or revoked token (401) and a token of the wrong role
// (403), and serves the right role; refusals are logged without the token.
func TestRolesOnEveryRoute(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		e := newEnv(t, db)
		for _, rt := range apiRoutes(e) {
			name := rt.method + " " + rt.path
			for _, bad := range []string{"", "not-a-token", "sc_" + strings.Repeat("a", 32), e.tokens["revoked"]} {
				a := e.do(rt.method, rt.path, bad, rt.body)
				if a.status != 401 || a.header.Get("WWW-Authenticate") == "" || !isProblem(a) {
					t.Errorf("%s with token %q: %d %s, want a 401 problem with WWW-Authenticate", name, bad, a.status, a.body)
				}
			}
			for _, role := range auth.Roles {
				a := e.do(rt.method, rt.path, e.tokens[string(role)], rt.body)
				allowed := false
				for _, r := range rt.roles {
					allowed = allowed || r == role
				}
				switch {
				case allowed && (a.status < 200 || a.status > 299):
					t.Errorf("%s as %s: %d %s, want 2xx", name, role, a.status, a.body)
				case !allowed && (a.status != 403 || !isProblem(a)):
					t.Errorf("%s as %s: %d %s, want a 403 problem", name, role, a.status, a.body)
				}
			}
		}
		for _, secret := range e.tokens {
			if strings.Contains(e.logs.String(), secret) {
				t.Errorf("a token secret is in the log")
			}
		}
		if !strings.Contains(e.logs.String(), "wrong role") || !strings.Contains(e.logs.String(), "revoked token") {
			t.Errorf("refusals not logged: %s", e.logs.String())
		}
	})
}

// TestEveryRouteDeclared: every route the server has under /api/ is in
// apiRoutes, so TestRolesOnEveryRoute covers it.
func TestEveryRouteDeclared(t *testing.T) {
	e := newEnv(t, storagetest.Open(t, storage.SQLite))
	listed := map[string]bool{}
	for _, rt := range apiRoutes(e) {
		listed[rt.method+" "+templateOf(e, rt.path)] = true
	}
	err := e.hs.Walk(func(method, path string) {
		if strings.HasPrefix(path, "/api/") && method != "HEAD" && !listed[method+" "+path] {
			t.Errorf("route %s %s is not in apiRoutes", method, path)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
}

// templates map concrete ids in test paths back to route templates;
// route groups' test files add theirs.
var templates = []func(e *env, path string) string{
	func(e *env, path string) string {
		toks, _ := e.db.Tokens(context.Background())
		for _, tok := range toks {
			path = strings.ReplaceAll(path, tok.ID, "{id}")
		}
		return path
	},
}

// templateOf maps a concrete test path back to its route template.
func templateOf(e *env, path string) string {
	for _, f := range templates {
		path = f(e, path)
	}
	return path
}

func isProblem(a answer) bool {
	var p httpserver.Problem
	return a.header.Get("Content-Type") == "application/problem+json" &&
		json.Unmarshal([]byte(a.body), &p) == nil && p.Status == a.status && p.Kind != "" && p.Title != ""
}

// states read what the routes may change, as the store reads it; route
// groups' test files add theirs. TestAuditorChangesNothing compares them
// before and after.
var states = []func(e *env) any{
	func(e *env) any { toks, _ := e.db.Tokens(context.Background()); return toks },
	func(e *env) any { acts, _ := e.db.Actions(context.Background()); return acts },
}

func stateOf(e *env) []any {
	var out []any
	for _, f := range states {
		out = append(out, f(e))
	}
	return out
}

// TestAuditorChangesNothing: an auditor's every request leaves the store
// as it was.
func TestAuditorChangesNothing(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		e := newEnv(t, db)
		before := stateOf(e)
		for _, rt := range apiRoutes(e) {
			e.do(rt.method, rt.path, e.tokens["auditor"], rt.body)
		}
		if after := stateOf(e); !reflect.DeepEqual(before, after) {
			t.Errorf("an auditor changed the store:\n%+v\nwas\n%+v", after, before)
		}
	})
}

// TestTokenLifecycle: a token made through the API works at once, shows
// its secret once, and stops working when revoked; both are logged in the
// action log by who did them.
func TestTokenLifecycle(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		e := newEnv(t, db)
		a := e.do("POST", "/api/v1/tokens", e.tokens["admin"], `{"name":"treasurer bot","role":"treasurer"}`)
		var made httpserver.TokenJSON
		if a.status != 201 || json.Unmarshal([]byte(a.body), &made) != nil || !auth.LooksLike(made.Secret) || made.Role != auth.Treasurer {
			t.Fatalf("create: %d %s", a.status, a.body)
		}
		list := e.do("GET", "/api/v1/tokens", e.tokens["admin"], "")
		if strings.Contains(list.body, made.Secret) || strings.Contains(list.body, `"secret"`) {
			t.Errorf("the list shows a secret: %s", list.body)
		}
		if a := e.do("GET", "/api/v1/tokens", made.Secret, ""); a.status != 403 {
			t.Errorf("new treasurer token on an admin route: %d", a.status)
		}
		if a := e.do("POST", "/api/v1/tokens/"+made.ID+"/revoke", e.tokens["admin"], ""); a.status != 200 || !strings.Contains(a.body, `"revoked_at":"`) {
			t.Errorf("revoke: %d %s", a.status, a.body)
		}
		if a := e.do("GET", "/api/v1/tokens", made.Secret, ""); a.status != 401 {
			t.Errorf("revoked token: %d, want 401", a.status)
		}
		if a := e.do("POST", "/api/v1/tokens/tok_nosuch/revoke", e.tokens["admin"], ""); a.status != 404 || !isProblem(a) {
			t.Errorf("revoke an unknown token: %d %s, want a 404 problem", a.status, a.body)
		}
	})
}

// TestBadInput: malformed JSON, unknown fields, wrong types, bad values
// and oversized bodies get a 4xx problem and change nothing; no 5xx.
func TestBadInput(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		e := newEnv(t, db)
		before, _ := db.Tokens(context.Background())
		for _, tt := range []struct {
			body   string
			status int
		}{
			{`{"name":"x","role":"admin"`, 400},
			{`not json`, 400},
			{``, 400},
			{`{"name":"x","role":"admin","extra":1}`, 400},
			{`{"name":5,"role":"admin"}`, 400},
			{`{"name":"x","role":"emperor"}`, 400},
			{`{"name":"","role":"admin"}`, 400},
			{`{"name":"x","role":"admin"} {"again":1}`, 400},
			{`[1,2,3]`, 400},
			{`{"name":"` + strings.Repeat("x", 2<<20) + `","role":"admin"}`, 413},
		} {
			a := e.do("POST", "/api/v1/tokens", e.tokens["admin"], tt.body)
			if a.status != tt.status || !isProblem(a) {
				t.Errorf("POST %.40q: %d %.200s, want a %d problem", tt.body, a.status, a.body, tt.status)
			}
		}
		after, _ := db.Tokens(context.Background())
		if len(after) != len(before) {
			t.Errorf("bad input made %d tokens", len(after)-len(before))
		}
	})
}

// TestHealth: /healthz answers while the process runs; /readyz answers 503
// while the store does not, with no detail of why; both answer HEAD; a
// wrong method gets 405 with Allow; an unknown path a 404 problem.
func TestHealth(t *testing.T) {
	db := storagetest.Open(t, storage.SQLite)
	var down error
	hs := httpserver.New(nil, db, func(ctx context.Context) error {
		if down != nil {
			return down
		}
		return db.Ready(ctx)
	}, "v1.2.3")
	srv := httptest.NewServer(hs.Handler())
	defer srv.Close()
	e := &env{t: t, srv: srv}
	for _, tt := range []struct {
		method, path string
		status       int
	}{
		{"GET", "/healthz", 200}, {"HEAD", "/healthz", 200}, {"GET", "/readyz", 200}, {"HEAD", "/readyz", 200},
		{"GET", "/version", 200}, {"GET", "/nope", 404},
	} {
		if a := e.do(tt.method, tt.path, "", ""); a.status != tt.status {
			t.Errorf("%s %s: %d %s, want %d", tt.method, tt.path, a.status, a.body, tt.status)
		}
	}
	if a := e.do("GET", "/version", "", ""); !strings.Contains(a.body, `"v1.2.3"`) {
		t.Errorf("version: %s", a.body)
	}
	if a := e.do("POST", "/healthz", "", ""); a.status != 405 || a.header.Get("Allow") != "GET, HEAD" {
		t.Errorf("POST /healthz: %d Allow %q, want 405 with Allow: GET, HEAD", a.status, a.header.Get("Allow"))
	}
	down = errors.New("dial tcp 10.0.0.5:5432: connection refused")
	a := e.do("GET", "/readyz", "", "")
	if a.status != 503 || !isProblem(a) || strings.Contains(a.body, "10.0.0.5") {
		t.Errorf("readyz with the store down: %d %s, want a 503 problem without the cause", a.status, a.body)
	}
	if a := e.do("GET", "/healthz", "", ""); a.status != 200 {
		t.Errorf("healthz with the store down: %d", a.status)
	}
	down = nil
	db.Close()
	if a := e.do("GET", "/readyz", "", ""); a.status != 503 {
		t.Errorf("readyz with the database closed: %d", a.status)
	}
}
