package httpserver_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"reflect"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shortcode/shortcode/compliance"
	"github.com/shortcode/shortcode/donation/auth"
	"github.com/shortcode/shortcode/donation/program"
	"github.com/shortcode/shortcode/storage"
	"github.com/shortcode/shortcode/storage/storagetest"
)

func init() {
	mounts = append(mounts, func(e *env) {
		if err := e.db.SaveProgram(context.Background(), compliance.DemoProgram("")); err != nil {
			e.t.Fatal(err)
		}
		e.hs.ProgramRoutes(&program.Service{Store: e.db, Clock: &tickingClock{}})
	})
	routeTables = append(routeTables, programRoutes)
	templates = append(templates, func(e *env, path string) string {
		path, _, _ = strings.Cut(path, "?")
		return programPath.ReplaceAllString(path, "/api/v1/programs/{id}")
	})
	states = append(states, func(e *env) any { return programsState(e) })
}

// tickingClock moves a second each time it is read, so that the action
// log, ordered by time, is in the order of the requests.
type tickingClock struct{ ticks atomic.Int64 }

func (c *tickingClock) Now() time.Time { return t0.Add(time.Duration(c.ticks.Add(1)) * time.Second) }

var programPath = regexp.MustCompile(`^/api/v1/programs/[^/]+`)

// demoFile is the demo program as a PUT body.
func demoFile(t testing.TB, change func(*program.File)) string {
	f := program.FileOf(compliance.DemoProgram(""))
	if change != nil {
		change(&f)
	}
	b, err := json.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func programRoutes(e *env) []route {
	readers := []auth.Role{auth.Admin, auth.Treasurer, auth.Auditor}
	admin := []auth.Role{auth.Admin}
	return []route{
		{"GET", "/api/v1/programs", "", readers},
		{"GET", "/api/v1/programs?short_code=62262", "", readers},
		{"GET", "/api/v1/programs/demo", "", readers},
		{"PUT", "/api/v1/programs/demo", demoFile(e.t, nil), admin},
		{"POST", "/api/v1/programs/demo/deactivate", "", admin},
		{"POST", "/api/v1/programs/demo/activate", "", admin},
		{"POST", "/api/v1/programs/demo/withdraw-good-standing", "", admin},
		{"POST", "/api/v1/programs/demo/restore-good-standing", "", admin},
	}
}

// programsState is every stored program, committee included.
func programsState(e *env) string {
	ps, err := e.db.AllPrograms(context.Background())
	if err != nil {
		e.t.Fatal(err)
	}
	b, _ := json.Marshal(ps)
	return string(b)
}

// TestProgramLifecycle: a program saved through the API reads back in the
// format it was written in, and each change is logged with who made it.
func TestProgramLifecycle(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		e := newEnv(t, db)
		admin := e.tokens["admin"]
		hope := func(f *program.File) {
			f.ID, f.Keywords, f.Active = "hope", []string{"HOPE"}, false
			f.Committee.ID, f.Committee.Type, f.Committee.DisplayName = "C00123456", compliance.PAC, "Hope PAC"
			f.PricePoints = []string{"5.00", "10.00", "25.00"}
			f.Limits = program.LimitsFile{PerMessage: "25.00", Month: "100.00", Cycle: "500.00"}
			f.Templates = compliance.Templates{Help: "{Committee}: up to ${MonthCap}/mo. 4 msgs per gift. Msg&data rates may apply. Help: {care}. Reply STOP to end."}
		}
		a := e.do("PUT", "/api/v1/programs/hope", e.tokens["admin"], demoFile(t, hope))
		if a.status != 201 {
			t.Fatalf("PUT a new program: %d %s", a.status, a.body)
		}
		shown := e.do("GET", "/api/v1/programs/hope", e.tokens["auditor"], "")
		if shown.status != 200 || shown.body != a.body {
			t.Errorf("GET shows %d %s\nPUT answered %s", shown.status, shown.body, a.body)
		}
		var f program.File
		if err := json.Unmarshal([]byte(shown.body), &f); err != nil {
			t.Fatal(err)
		}
		if f.Templates.Confirm != compliance.DefaultTemplates.Confirm || *f.Limits.Rolling != true || f.PINExpiry != "10m" {
			t.Errorf("left-out settings did not take the defaults: %s", shown.body)
		}
		// What GET shows, PUT takes back unchanged.
		if a := e.do("PUT", "/api/v1/programs/hope", admin, shown.body); a.status != 200 || a.body != shown.body {
			t.Errorf("PUT what GET showed: %d %s", a.status, a.body)
		}

		list := func(query string) []string {
			a := e.do("GET", "/api/v1/programs"+query, e.tokens["treasurer"], "")
			var fs []program.File
			if a.status != 200 || json.Unmarshal([]byte(a.body), &fs) != nil {
				t.Fatalf("list%s: %d %s", query, a.status, a.body)
			}
			var ids []string
			for _, f := range fs {
				ids = append(ids, fmt.Sprintf("%s:%v", f.ID, f.Active))
			}
			return ids
		}
		if got := fmt.Sprint(list("")); got != "[demo:true hope:false]" {
			t.Errorf("list = %s", got)
		}
		if got := fmt.Sprint(list("?short_code=50555")); got != "[]" {
			t.Errorf("list on another short code = %s", got)
		}

		for _, step := range []struct {
			path   string
			status int
			want   string // in the body
		}{
			{"/api/v1/programs/hope/activate", 200, `"active":true`},
			{"/api/v1/programs/hope/deactivate", 200, `"active":false`},
			{"/api/v1/programs/demo/withdraw-good-standing", 200, `"good_standing":false`},
			{"/api/v1/programs/demo/activate", 409, "not marked in good standing"},
			{"/api/v1/programs/demo/restore-good-standing", 200, `"good_standing":true`},
			{"/api/v1/programs/demo/activate", 200, `"active":true`},
		} {
			a := e.do("POST", step.path, admin, "")
			if a.status != step.status || !strings.Contains(a.body, step.want) {
				t.Errorf("POST %s: %d %s, want %d with %s", step.path, a.status, a.body, step.status, step.want)
			}
		}

		acts, err := db.Actions(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, a := range acts {
			if strings.HasPrefix(a.Action, "program.") || strings.HasPrefix(a.Action, "committee.") {
				if !strings.HasPrefix(a.Actor, "token:tok_") || !strings.HasSuffix(a.Actor, "(admin)") {
					t.Errorf("action %s by %q, want the admin's token", a.Action, a.Actor)
				}
				got = append(got, a.Action)
			}
		}
		want := "[program.save program.save program.activate program.deactivate committee.withdraw-good-standing committee.restore-good-standing program.activate]"
		if fmt.Sprint(got) != want {
			t.Errorf("actions %v\nwant %s", got, want)
		}
	})
}

// TestProgramBadInput: every bad request gets a 4xx problem, never a 5xx,
// and changes nothing.
func TestProgramBadInput(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		e := newEnv(t, db)
		admin := e.tokens["admin"]
		other := demoFile(t, func(f *program.File) {
			f.ID, f.Keywords, f.Active = "other", []string{"OTHER"}, false
			f.Committee.ID, f.Committee.GoodStanding = "C00000002", false
		})
		if a := e.do("PUT", "/api/v1/programs/other", admin, other); a.status != 201 {
			t.Fatalf("PUT other: %d %s", a.status, a.body)
		}
		for _, tc := range []struct {
			method, path, body string
			status             int
			want               []string // in the problem's detail
		}{
			{"PUT", "/api/v1/programs/demo", `{"id":"demo"`, 400, nil},
			{"PUT", "/api/v1/programs/demo", `not json`, 400, nil},
			{"PUT", "/api/v1/programs/demo", ``, 400, nil},
			{"PUT", "/api/v1/programs/demo", `[]`, 400, nil},
			{"PUT", "/api/v1/programs/demo", `{"id":"demo","colour":"red"}`, 400, []string{`unknown field \"colour\"`}},
			{"PUT", "/api/v1/programs/demo", `{"id":"demo","templates":{"welcome":"hi"}}`, 400, []string{"welcome"}},
			{"PUT", "/api/v1/programs/demo", `{"id":5}`, 400, nil},
			{"PUT", "/api/v1/programs/demo", `{"price_points":[5]}`, 400, nil},
			{"PUT", "/api/v1/programs/demo", `{"active":"yes"}`, 400, nil},
			{"PUT", "/api/v1/programs/demo", demoFile(t, func(f *program.File) { f.PricePoints = []string{"99999999999.00", "-5.00", "1e9"} }), 400,
				[]string{`price_points[0]: \"99999999999.00\"`, `price_points[1]: \"-5.00\"`, `price_points[2]: \"1e9\"`}},
			{"PUT", "/api/v1/programs/demo", demoFile(t, func(f *program.File) { f.Limits.Month = "9999999999.99" }), 400,
				[]string{"monthly cap $9999999999.99 is over the cycle/year cap $200"}},
			{"PUT", "/api/v1/programs/demo", demoFile(t, func(f *program.File) { f.PINExpiry = "-10m" }), 400,
				[]string{"PIN expiry -10m0s is not positive"}},
			{"PUT", "/api/v1/programs/demo", demoFile(t, func(f *program.File) { f.ConfirmExpiry = "9999999h" }), 400,
				[]string{`confirm_expiry: \"9999999h\" is not a duration`}},
			{"PUT", "/api/v1/programs/demo", demoFile(t, func(f *program.File) { f.ID = "other" }), 400, []string{`the body is program \"other\", the path program \"demo\"`}},
			{"PUT", "/api/v1/programs/demo", demoFile(t, func(f *program.File) {
				f.ShortCode, f.Committee.ID = "1", "C1"
				f.Templates.Help = "{Committee}: up to $75/mo. {care}"
				f.Templates.PIN = "PIN {pin} {nope}"
			}), 400, []string{`short code \"1\"`, `FEC ID \"C1\"`, `template help: states \"$75/mo\"`, "template pin: unknown placeholder {nope}"}},
			{"PUT", "/api/v1/programs/demo", demoFile(t, func(f *program.File) { f.Keywords = []string{"GIVE", "OTHER"} }), 409, []string{`keyword \"OTHER\"`}},
			{"PUT", "/api/v1/programs/demo", demoFile(t, func(f *program.File) { f.Active = false }), 409, []string{"use activate or deactivate"}},
			{"PUT", "/api/v1/programs/demo", `{"id":"demo","terms_url":"` + strings.Repeat("x", 2<<20) + `"}`, 413, nil},
			{"GET", "/api/v1/programs/nope", "", 404, nil},
			{"GET", "/api/v1/programs?short_code=abc", "", 400, []string{"short_code"}},
			{"GET", "/api/v1/programs?short_code=", "", 400, nil},
			{"GET", "/api/v1/programs?shortcode=62262", "", 400, []string{"unknown query parameter"}},
			{"GET", "/api/v1/programs?short_code=" + url.QueryEscape("62262';DROP TABLE programs;--"), "", 400, nil},
			{"POST", "/api/v1/programs/nope/activate", "", 404, nil},
			{"POST", "/api/v1/programs/nope/deactivate", "", 404, nil},
			{"POST", "/api/v1/programs/nope/withdraw-good-standing", "", 404, nil},
			{"POST", "/api/v1/programs/nope/restore-good-standing", "", 404, nil},
			{"POST", "/api/v1/programs/other/activate", "", 409, []string{"cannot be activated", "not marked in good standing"}},
			{"DELETE", "/api/v1/programs/demo", "", 405, nil},
		} {
			before := stateOf(e)
			a := e.do(tc.method, tc.path, admin, tc.body)
			name := fmt.Sprintf("%s %s %.60s", tc.method, tc.path, tc.body)
			if a.status != tc.status || (a.status != 405 && !isProblem(a)) {
				t.Errorf("%s: %d %.300s, want a %d problem", name, a.status, a.body, tc.status)
			}
			for _, w := range tc.want {
				if !strings.Contains(a.body, w) {
					t.Errorf("%s: the problem lacks %s: %s", name, w, a.body)
				}
			}
			if after := stateOf(e); !reflect.DeepEqual(after, before) {
				t.Errorf("%s changed the store", name)
			}
		}
	})
}

// TestProgramFileOverHTTP: docs/program.example.json is a body PUT takes.
func TestProgramFileOverHTTP(t *testing.T) {
	e := newEnv(t, storagetest.Open(t, storage.SQLite))
	b, err := readExample()
	if err != nil {
		t.Fatal(err)
	}
	if a := e.do("PUT", "/api/v1/programs/hope", e.tokens["admin"], b); a.status != 201 {
		t.Fatalf("PUT the example: %d %s", a.status, a.body)
	}
	a := e.do("GET", "/api/v1/programs/hope", e.tokens["admin"], "")
	p, err := program.Decode(bytes.NewReader([]byte(a.body)))
	if err != nil || p.Validate() != nil || p.Committee.ID != "C00123456" {
		t.Errorf("GET the example back: %v %s", err, a.body)
	}
}

func readExample() (string, error) {
	b, err := os.ReadFile("../../docs/program.example.json")
	return string(b), err
}
