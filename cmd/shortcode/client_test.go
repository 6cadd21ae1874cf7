package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// fakeAPI is an operator API that records each request and answers with
// canned bodies: for testing the client commands' requests and their
// tables and --json output apart from the server.
type fakeAPI struct {
	t   *testing.T
	srv *httptest.Server

	mu       sync.Mutex
	requests []apiRequest
	answer   apiAnswer
	paths    map[string]apiAnswer // answers to the requests of a path, before answer
}

type apiRequest struct {
	method, uri, auth, contentType, body string
}

type apiAnswer struct {
	status      int
	contentType string
	body        string
}

func newFakeAPI(t *testing.T) *fakeAPI {
	f := &fakeAPI{t: t}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		f.mu.Lock()
		f.requests = append(f.requests, apiRequest{r.Method, r.URL.RequestURI(), r.Header.Get("Authorization"), r.Header.Get("Content-Type"), string(b)})
		a, ok := f.paths[r.URL.Path]
		if !ok {
			a = f.answer
		}
		f.mu.Unlock()
		w.Header().Set("Content-Type", a.contentType)
		w.WriteHeader(a.status)
		io.WriteString(w, a.body)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

// answerWith sets the answer to every request: status and body, JSON.
func (f *fakeAPI) answerWith(status int, body string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	ct := "application/json"
	if status >= 400 {
		ct = "application/problem+json"
	}
	f.answer = apiAnswer{status, ct, body}
}

// answerPath sets the answer to every request of path, 200 and body.
func (f *fakeAPI) answerPath(path, body string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.paths == nil {
		f.paths = map[string]apiAnswer{}
	}
	f.paths[path] = apiAnswer{200, "text/plain; charset=utf-8", body}
}

// take returns the requests made since the last take.
func (f *fakeAPI) take() []apiRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	r := f.requests
	f.requests = nil
	return r
}

// apiFile returns the canned answer testdata/cli/api/name.
func apiFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "cli", "api", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// jsonOf is v as JSON.
func jsonOf(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

const testToken = "sc_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"

// TestClientCommands: each client command sends its request, with the
// token, and prints the answer as a table or, with --json, as JSON
// (golden files under testdata/cli).
func TestClientCommands(t *testing.T) {
	api := newFakeAPI(t)
	env := []string{"SHORTCODE_SERVER=" + api.srv.URL, "SHORTCODE_TOKEN=" + testToken}
	dir := t.TempDir()
	program := filepath.Join(dir, "hope.json")
	settlement := filepath.Join(dir, "mobile.csv")
	const csv = "\ufeffserver_reference,reference,charged_at,gross,carrier_fee,net,status\r\n"
	for name, body := range map[string]string{program: apiFile(t, "program-demo.json"), settlement: csv} {
		if err := os.WriteFile(name, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		args   []string
		answer string // a file under testdata/cli/api
		status int    // of the answer; 200 when 0
		want   apiRequest
		golden string // the output's golden file under testdata/cli, if any
	}{
		{args: []string{"program", "list"}, answer: "programs.json",
			want: apiRequest{method: "GET", uri: "/api/v1/programs"}, golden: "program-list.txt"},
		{args: []string{"program", "list", "--short-code", "62262", "--json"}, answer: "programs.json",
			want: apiRequest{method: "GET", uri: "/api/v1/programs?short_code=62262"}, golden: "program-list.json"},
		{args: []string{"program", "show", "demo"}, answer: "program-demo.json",
			want: apiRequest{method: "GET", uri: "/api/v1/programs/demo"}, golden: "program-show.json"},
		{args: []string{"program", "save", program}, answer: "program-demo.json", status: 201,
			want: apiRequest{method: "PUT", uri: "/api/v1/programs/demo", contentType: "application/json", body: apiFile(t, "program-demo.json")}, golden: "program-save.txt"},
		{args: []string{"program", "activate", "demo"}, answer: "program-demo.json",
			want: apiRequest{method: "POST", uri: "/api/v1/programs/demo/activate"}},
		{args: []string{"program", "deactivate", "demo"}, answer: "program-demo.json",
			want: apiRequest{method: "POST", uri: "/api/v1/programs/demo/deactivate"}},
		{args: []string{"program", "withdraw-good-standing", "demo"}, answer: "program-demo.json",
			want: apiRequest{method: "POST", uri: "/api/v1/programs/demo/withdraw-good-standing"}},
		{args: []string{"program", "restore-good-standing", "demo"}, answer: "program-demo.json",
			want: apiRequest{method: "POST", uri: "/api/v1/programs/demo/restore-good-standing"}},

		{args: []string{"donations", "list", "--phone", "+1******0122", "--committee", "C99999999", "--from", "2027-03-01", "--to", "2027-03-31"}, answer: "donations.json",
			want: apiRequest{method: "GET", uri: "/api/v1/donations?committee=C99999999&from=2027-03-01&limit=1000&phone=%2B1%2A%2A%2A%2A%2A%2A0122&to=2027-03-31"}, golden: "donations-list.txt"},
		{args: []string{"donations", "list", "--json", "--limit", "5"}, answer: "donations.json",
			want: apiRequest{method: "GET", uri: "/api/v1/donations?limit=5"}, golden: "donations-list.json"},
		{args: []string{"donations", "show", "D00000002"}, answer: "donation.json",
			want: apiRequest{method: "GET", uri: "/api/v1/donations/D00000002"}, golden: "donations-show.txt"},
		{args: []string{"refund", "D00000002", "--reason", "prohibited", "--discovered", "2027-03-01"}, answer: "refund.json", status: 201,
			want: apiRequest{method: "POST", uri: "/api/v1/refunds", contentType: "application/json", body: `{"discovered":"2027-03-01","donation_id":"D00000002","reason":"prohibited"}`}, golden: "refund.txt"},
		{args: []string{"refund", "request", "D00000002", "--reason", "donor-request", "--json"}, answer: "refund.json", status: 201,
			want: apiRequest{method: "POST", uri: "/api/v1/refunds", contentType: "application/json", body: `{"discovered":"","donation_id":"D00000002","reason":"donor-request"}`}, golden: "refund.json"},
		{args: []string{"refund", "list", "--committee", "C99999999"}, answer: "refunds.json",
			want: apiRequest{method: "GET", uri: "/api/v1/refunds?committee=C99999999"}, golden: "refund-list.txt"},
		{args: []string{"refund", "list", "--json"}, answer: "refunds.json",
			want: apiRequest{method: "GET", uri: "/api/v1/refunds"}, golden: "refund-list.json"},
		{args: []string{"settle", "import", settlement, "--carrier", "SimMobile"}, answer: "settlement-report.json", status: 201,
			want: apiRequest{method: "POST", uri: "/api/v1/settlements", contentType: "application/json", body: jsonOf(t, map[string]string{"carrier": "SimMobile", "file": csv, "name": "mobile.csv"})}, golden: "settle-import.txt"},
		{args: []string{"settle", "list"}, answer: "settlements.json",
			want: apiRequest{method: "GET", uri: "/api/v1/settlements"}, golden: "settle-list.txt"},
		{args: []string{"settle", "list", "--json"}, answer: "settlements.json",
			want: apiRequest{method: "GET", uri: "/api/v1/settlements"}, golden: "settle-list.json"},
		{args: []string{"forward", "due", "--within", "10d"}, answer: "due.json",
			want: apiRequest{method: "GET", uri: "/api/v1/forwards/due?within=240h0m0s"}, golden: "forward-due.txt"},
		{args: []string{"forward", "due", "--committee", "C99999999", "--json"}, answer: "due.json",
			want: apiRequest{method: "GET", uri: "/api/v1/forwards/due?committee=C99999999&within=72h0m0s"}, golden: "forward-due.json"},
		{args: []string{"forward", "record", "--committee", "C99999999", "--reference", "WIRE-1", "--through", "2027-03-15", "--amount", "150010.00"}, answer: "forward.json", status: 201,
			want: apiRequest{method: "POST", uri: "/api/v1/forwards", contentType: "application/json", body: `{"committee":"C99999999","reference":"WIRE-1","through":"2027-03-15","amount":"150010.00"}`}, golden: "forward-record.txt"},
		{args: []string{"forward", "record", "--committee", "C99999999", "--reference", "WIRE-1"}, answer: "forward.json", status: 201,
			want: apiRequest{method: "POST", uri: "/api/v1/forwards", contentType: "application/json", body: `{"committee":"C99999999","reference":"WIRE-1"}`}},
		{args: []string{"forward", "list", "--json"}, answer: "forwards.json",
			want: apiRequest{method: "GET", uri: "/api/v1/forwards"}, golden: "forward-list.json"},
		{args: []string{"forward", "list", "--committee", "C99999999"}, answer: "forwards.json",
			want: apiRequest{method: "GET", uri: "/api/v1/forwards?committee=C99999999"}, golden: "forward-list.txt"},
		{args: []string{"blocklist", "list"}, answer: "blocklist.json",
			want: apiRequest{method: "GET", uri: "/api/v1/blocklist"}, golden: "blocklist-list.txt"},
		{args: []string{"blocklist", "list", "--committee", "C99999999", "--json"}, answer: "blocklist.json",
			want: apiRequest{method: "GET", uri: "/api/v1/blocklist?committee=C99999999"}, golden: "blocklist-list.json"},
		{args: []string{"blocklist", "add", "+12125550100", "--committee", "C99999999", "--reason", "foreign national"}, answer: "block.json", status: 201,
			want: apiRequest{method: "POST", uri: "/api/v1/blocklist", contentType: "application/json", body: `{"committee":"C99999999","phone":"+12125550100","reason":"foreign national"}`}, golden: "blocklist-add.txt"},
		{args: []string{"blocklist", "remove", "+12125550100", "--committee", "C99999999"}, answer: "block.json",
			want: apiRequest{method: "DELETE", uri: "/api/v1/blocklist/+12125550100?committee=C99999999"}, golden: "blocklist-remove.txt"},
		{args: []string{"actions"}, answer: "actions.json",
			want: apiRequest{method: "GET", uri: "/api/v1/actions"}, golden: "actions.txt"},
		{args: []string{"actions", "--json"}, answer: "actions.json",
			want: apiRequest{method: "GET", uri: "/api/v1/actions"}, golden: "actions.json"},
		{args: []string{"audit", "checkpoint"}, answer: "checkpoint.txt",
			want: apiRequest{method: "GET", uri: "/log/checkpoint"}, golden: "audit-checkpoint.txt"},
		{args: []string{"audit", "show", "d-000007", "--key", testLogVerifier}, answer: "evidence.json",
			want: apiRequest{method: "GET", uri: "/api/v1/audit/donations/d-000007"}, golden: "audit-show.txt"},
		{args: []string{"audit", "show", "d-000007", "--json"}, answer: "evidence.json",
			want: apiRequest{method: "GET", uri: "/api/v1/audit/donations/d-000007"}, golden: "audit-show.json"},
		{args: []string{"audit", "proof", "d-000007"}, answer: "record-7.tlog-proof",
			want: apiRequest{method: "GET", uri: "/api/v1/audit/donations/d-000007/proof"}, golden: "audit-proof.txt"},
	}
	for _, tt := range tests {
		status := tt.status
		if status == 0 {
			status = 200
		}
		api.answerWith(status, apiFile(t, tt.answer))
		r := shortcode(t, dir, env, tt.args...)
		r.want(t, 0, tt.args...)
		got := api.take()
		tt.want.auth = "Bearer " + testToken
		if len(got) != 1 || got[0] != tt.want {
			t.Errorf("shortcode %q sent %+v, want %+v", tt.args, got, tt.want)
		}
		if tt.golden != "" {
			golden(t, tt.golden, r.stdout)
		}
		if strings.HasSuffix(tt.golden, ".json") && !json.Valid([]byte(r.stdout)) {
			t.Errorf("shortcode %q: not JSON:\n%s", tt.args, r.stdout)
		}
	}
}

// TestClientErrors: a problem answer is printed once, with its detail,
// status and request id, and exits 1; so do answers that are not the
// API's and a server that does not answer.
func TestClientErrors(t *testing.T) {
	api := newFakeAPI(t)
	env := []string{"SHORTCODE_SERVER=" + api.srv.URL, "SHORTCODE_TOKEN=" + testToken}
	tests := []struct {
		status int
		ct     string
		body   string
		want   string
	}{
		{404, "application/problem+json", `{"type":"about:blank","title":"Not Found","status":404,"kind":"not_found","detail":"program nosuch: not found","instance":"/api/v1/programs/nosuch","request_id":"3f9c0a1b2c3d4e5f"}`,
			"shortcode: program nosuch: not found (404, request 3f9c0a1b2c3d4e5f)\n"},
		{403, "application/problem+json", `{"type":"about:blank","title":"Forbidden","status":403,"kind":"forbidden","detail":"forbidden: a auditor token may not do this (needs admin)","request_id":"r1"}`,
			"shortcode: forbidden: a auditor token may not do this (needs admin) (403, request r1)\n"},
		{503, "application/problem+json", `{"type":"about:blank","title":"Service Unavailable","status":503,"kind":"unavailable","detail":"temporarily unavailable; try again","request_id":"r2"}`,
			"shortcode: temporarily unavailable; try again (503, request r2)\n"},
		{502, "text/html", "<html>Bad Gateway</html>", "shortcode: 502 Bad Gateway: <html>Bad Gateway</html> (502)\n"},
		{200, "application/json", `{"not":"a list"}`, "the server's answer is not the JSON expected"},
	}
	for _, tt := range tests {
		api.mu.Lock()
		api.answer = apiAnswer{tt.status, tt.ct, tt.body}
		api.mu.Unlock()

		r := shortcode(t, "", env, "token", "list")
		r.want(t, 1, "token", "list")
		if !strings.Contains(r.stderr, tt.want) || r.stdout != "" {
			t.Errorf("answer %d %s: stdout %q, stderr %q, want %q", tt.status, tt.body, r.stdout, r.stderr, tt.want)
		}
	}
}

// TestRefundRefused: a refund the carrier refused is a failure, with the
// carrier's reason.
func TestRefundRefused(t *testing.T) {
	api := newFakeAPI(t)
	env := []string{"SHORTCODE_SERVER=" + api.srv.URL, "SHORTCODE_TOKEN=" + testToken}
	var refund map[string]any
	if err := json.Unmarshal([]byte(apiFile(t, "refund.json")), &refund); err != nil {
		t.Fatal(err)
	}
	refund["status"], refund["decline_reason"] = "refused", "refund window closed"
	api.answerWith(201, jsonOf(t, refund))
	r := shortcode(t, "", env, "refund", "D00000002", "--reason", "excessive")
	r.want(t, 1)
	if !strings.Contains(r.stderr, "refused by the carrier: refund window closed") {
		t.Errorf("refused refund: %s", r.stderr)
	}
}
