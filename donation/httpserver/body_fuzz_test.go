package httpserver_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http/httptest"
	"reflect"
	"testing"
	"time"

	"github.com/shortcode/shortcode/compliance"
	"github.com/shortcode/shortcode/donation/auth"
	"github.com/shortcode/shortcode/donation/httpserver"
	"github.com/shortcode/shortcode/donation/program"
	"github.com/shortcode/shortcode/donation/treasury"
	"github.com/shortcode/shortcode/storage"
	"github.com/shortcode/shortcode/storage/storagetest"
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
// The routes run in process over one SQLite store, with the demo program
// and a blocked number; what an accepted body changes stays for the next.
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

	db := storagetest.Open(f, storage.SQLite)
	ctx := context.Background()
	if err := db.SaveProgram(ctx, compliance.DemoProgram("https://sc.example")); err != nil {
		f.Fatal(err)
	}
	if err := db.Block(ctx, demo, "+12125550199", "test", "test"); err != nil {
		f.Fatal(err)
	}
	now := func() time.Time { return t0 }
	hs := httpserver.New(slog.New(slog.DiscardHandler), db, db.Ready, "v-fuzz")
	hs.TokenRoutes(db, now, nil)
	hs.ProgramRoutes(&program.Service{Store: db, Clock: &tickingClock{}})
	hs.TreasuryRoutes(&treasury.Service{Store: db.Treasury(), Carriers: carriers{}, Clock: clock(t0)}, db, now)
	h := hs.Handler()
	secrets := map[auth.Role]string{}
	for _, role := range []auth.Role{auth.Admin, auth.Treasurer} {
		tok, secret, hash, err := auth.New(nil, "fuzz-"+string(role), role, t0)
		if err != nil {
			f.Fatal(err)
		}
		if err := db.CreateToken(ctx, tok, hash, "test"); err != nil {
			f.Fatal(err)
		}
		secrets[role] = secret
	}
	state := func() []any {
		ps, _ := db.AllPrograms(ctx)
		toks, _ := db.Tokens(ctx)
		acts, _ := db.Actions(ctx)
		rs, _ := db.Refunds(ctx, "")
		ss, _ := db.Settlements(ctx)
		fs, _ := db.Forwards(ctx, "")
		bs, _ := db.Blocklist(ctx, "")
		return []any{ps, toks, acts, rs, ss, fs, bs}
	}

	f.Fuzz(func(t *testing.T, route uint8, body []byte) {
		rt := fuzzRoutes[int(route)%len(fuzzRoutes)]
		before := state()
		req := httptest.NewRequest(rt.method, rt.path, bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+secrets[rt.role])
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		switch code := rec.Code; {
		case code >= 500:
			t.Fatalf("%s %s %q: %d %s", rt.method, rt.path, body, code, rec.Body)
		case code >= 400:
			var p httpserver.Problem
			if rec.Header().Get("Content-Type") != "application/problem+json" || json.Unmarshal(rec.Body.Bytes(), &p) != nil ||
				p.Status != code || p.Kind == "" || p.Kind == "internal" {
				t.Fatalf("%s %s %q: %d without a problem of a domain kind: %s", rt.method, rt.path, body, code, rec.Body)
			}
			if after := state(); !reflect.DeepEqual(after, before) {
				t.Fatalf("%s %s %q was refused (%d %s) but changed what is stored", rt.method, rt.path, body, code, rec.Body)
			}
		case code < 200 || code > 299:
			t.Fatalf("%s %s %q: %d %s", rt.method, rt.path, body, code, rec.Body)
		}
	})
}
