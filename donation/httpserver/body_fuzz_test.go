package httpserver_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shortcode/shortcode/compliance"
	"github.com/shortcode/shortcode/donation/auth"
	"github.com/shortcode/shortcode/donation/httpserver"
	"github.com/shortcode/shortcode/donation/program"
	"github.com/shortcode/shortcode/donation/treasury"
	"github.com/shortcode/shortcode/storage"
)

// fuzzRoutes are the operator API's routes that read a JSON body, with
// the role that may call them.
var fuzzRoutes = []struct {
	method, path string
	role         auth.Role
}{
	{"PUT", "/api/v1/programs/demo", auth.Admin},
	{"POST", "/api/v1/refunds", auth.Treasurer},
	{"POST", "/api/v1/settlements", auth.Treasurer},
	{"POST", "/api/v1/forwards", auth.Treasurer},
	{"POST", "/api/v1/blocklist", auth.Treasurer},
	{"POST", "/api/v1/tokens", auth.Admin},
}

// FuzzAPIBodies: any body sent to a route that decodes JSON (program
// files, refund, settlement, forward and blocklist requests, tokens) is
// answered without a panic and never 5xx: a body the route refuses gets a
// 4xx problem with its domain error kind, and changes nothing stored.
// The routes run in process over a SQLite store with the demo program and
// a blocked number; what an accepted body changes stays for the next
// inputs, until the store holds 2,000 rows and a fresh one replaces it.
func FuzzAPIBodies(f *testing.F) {
	// Each route's own requests, good and bad, then bodies for every route.
	own := [][]string{
		{demoFile(f, nil), demoFile(f, func(p *program.File) { p.PricePoints = []string{"5", "x"} }),
			demoFile(f, func(p *program.File) { p.Templates.Help = "{nope}" }), demoFile(f, func(p *program.File) { p.ID = "other" })},
		{`{"donation_id":"DAPI01","reason":"prohibited","discovered":"2027-03-09"}`, `{"donation_id":"","reason":"x"}`},
		{settlementBody, `{"carrier":"SimMobile","file":"server_reference_code\n"}`},
		{`{"committee":"C99999999","reference":"WIRE-1","amount":"150000.00"}`, `{"committee":"C99999999","through":"2027-02-30"}`},
		{`{"phone":"+12125550198","committee":"C99999999","reason":"fraud report"}`, `{"phone":"(212) 555-0199","reason":"x"}`},
		{`{"name":"ci","role":"auditor"}`, `{"name":"","role":"root"}`},
	}
	for i := range fuzzRoutes {
		for _, b := range append(own[i], ``, `{}`, `null`, `{"a":1}`, `{} {}`, "{\"reason\":\"\xff\"}") {
			f.Add(uint8(i), []byte(b))
		}
	}

	dir := f.TempDir()
	var fx *bodyFixture
	f.Cleanup(func() {
		if fx != nil {
			fx.db.Close()
		}
	})

	f.Fuzz(func(t *testing.T, route uint8, body []byte) {
		// A fresh store once the accepted bodies have made the last one
		// large: every execution reads what is stored, twice.
		if fx == nil || fx.rows > 2000 {
			if fx != nil {
				fx.db.Close()
			}
			var err error
			if fx, err = newBodyFixture(dir); err != nil {
				t.Fatal(err)
			}
		}
		rt := fuzzRoutes[int(route)%len(fuzzRoutes)]
		before := fx.stored
		req := httptest.NewRequest(rt.method, rt.path, bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+fx.secrets[rt.role])
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		fx.h.ServeHTTP(rec, req)
		fx.read()
		switch code := rec.Code; {
		case code >= 500:
			t.Fatalf("%s %s %q: %d %s", rt.method, rt.path, body, code, rec.Body)
		case code >= 400:
			var p httpserver.Problem
			if rec.Header().Get("Content-Type") != "application/problem+json" || json.Unmarshal(rec.Body.Bytes(), &p) != nil ||
				p.Status != code || p.Kind == "" || p.Kind == "internal" {
				t.Fatalf("%s %s %q: %d without a problem of a domain kind: %s", rt.method, rt.path, body, code, rec.Body)
			}
			if !reflect.DeepEqual(fx.stored, before) {
				t.Fatalf("%s %s %q was refused (%d %s) but changed what is stored", rt.method, rt.path, body, code, rec.Body)
			}
		case code < 200 || code > 299:
			t.Fatalf("%s %s %q: %d %s", rt.method, rt.path, body, code, rec.Body)
		}
	})
}

// bodyFixture is FuzzAPIBodies' server: the operator API's routes over one
// SQLite store holding the demo program, a blocked number and a token for
// each role that the routes need, and what the store held after the last
// request (stored, rows in all).
type bodyFixture struct {
	db      *storage.DB
	h       http.Handler
	secrets map[auth.Role]string
	stored  []any
	rows    int
}

var fixtures atomic.Int64

func newBodyFixture(dir string) (*bodyFixture, error) {
	ctx := context.Background()
	path := filepath.Join(dir, fmt.Sprintf("fuzz-%d.db", fixtures.Add(1)))
	_ = os.Remove(path)
	db, err := storage.Open(ctx, path)
	if err != nil {
		return nil, err
	}
	fx := &bodyFixture{db: db, secrets: map[auth.Role]string{}}
	err = db.Migrate(ctx)
	if err == nil {
		err = db.SaveProgram(ctx, compliance.DemoProgram("https://sc.example"))
	}
	if err == nil {
		err = db.Block(ctx, demo, "+12125550199", "test", "test")
	}
	for _, role := range []auth.Role{auth.Admin, auth.Treasurer} {
		if err != nil {
			break
		}
		tok, secret, hash, nerr := auth.New(nil, "fuzz-"+string(role), role, t0)
		if err = nerr; err == nil {
			err = db.CreateToken(ctx, tok, hash, "test")
		}
		fx.secrets[role] = secret
	}
	if err != nil {
		db.Close()
		return nil, err
	}
	now := func() time.Time { return t0 }
	hs := httpserver.New(slog.New(slog.DiscardHandler), db, db.Ready, "v-fuzz")
	hs.TokenRoutes(db, now, nil)
	hs.ProgramRoutes(&program.Service{Store: db, Clock: &tickingClock{}})
	hs.TreasuryRoutes(&treasury.Service{Store: db.Treasury(), Carriers: carriers{}, Clock: clock(t0)}, db, now)
	fx.h = hs.Handler()
	fx.read()
	return fx, nil
}

// read reads everything the routes may change.
func (fx *bodyFixture) read() {
	ctx := context.Background()
	ps, _ := fx.db.AllPrograms(ctx)
	toks, _ := fx.db.Tokens(ctx)
	acts, _ := fx.db.Actions(ctx)
	rs, _ := fx.db.Refunds(ctx, "")
	ss, _ := fx.db.Settlements(ctx)
	fs, _ := fx.db.Forwards(ctx, "")
	bs, _ := fx.db.Blocklist(ctx, "")
	fx.stored = []any{ps, toks, acts, rs, ss, fs, bs}
	fx.rows = len(ps) + len(toks) + len(acts) + len(rs) + len(ss) + len(fs) + len(bs)
}
