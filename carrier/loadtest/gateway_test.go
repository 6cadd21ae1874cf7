package loadtest_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/shortcode/shortcode/carrier/loadtest"
	"github.com/shortcode/shortcode/carrier/twilio"
	"github.com/shortcode/shortcode/donation"
	"github.com/shortcode/shortcode/donation/donationtest"
	"github.com/shortcode/shortcode/donation/httpserver"
)

const (
	account = "AC00000000000000000000000000000000"
	token   = "test-token"
)

func newGateway(t *testing.T, now func() time.Time) (*loadtest.Gateway, *httptest.Server) {
	t.Helper()
	g := loadtest.NewGateway(account, token, now)
	srv := httptest.NewServer(g)
	t.Cleanup(srv.Close)
	return g, srv
}

// TestGatewayRefuses: the Messages API answers as Twilio's does to a
// request it cannot take, and takes nothing.
func TestGatewayRefuses(t *testing.T) {
	g, srv := newGateway(t, nil)
	path := "/2010-04-01/Accounts/" + account + "/Messages.json"
	good := url.Values{"To": {"+12125550100"}, "From": {"62262"}, "Body": {"hello"}}
	with := func(mod func(url.Values)) string {
		f := url.Values{}
		for k, v := range good {
			f[k] = v
		}
		mod(f)
		return f.Encode()
	}
	for _, tc := range []struct {
		name, method, path, user, pass, body string
		status, code                         int
	}{
		{"no auth", "POST", path, "", "", good.Encode(), 401, 20003},
		{"wrong token", "POST", path, account, "other", good.Encode(), 401, 20003},
		{"wrong account", "POST", path, "AC11111111111111111111111111111111", token, good.Encode(), 401, 20003},
		{"list with no auth", "GET", path, "", "", "", 401, 20003},
		{"another account's path", "POST", "/2010-04-01/Accounts/AC11111111111111111111111111111111/Messages.json", account, token, good.Encode(), 404, 20404},
		{"malformed form", "POST", path, account, token, "%zz", 400, 21100},
		{"no To", "POST", path, account, token, with(func(f url.Values) { f.Del("To") }), 400, 21604},
		{"To not E.164", "POST", path, account, token, with(func(f url.Values) { f.Set("To", "2125550100") }), 400, 21211},
		{"no From", "POST", path, account, token, with(func(f url.Values) { f.Del("From") }), 400, 21603},
		{"no Body", "POST", path, account, token, with(func(f url.Values) { f.Del("Body") }), 400, 21602},
		{"Body too long", "POST", path, account, token, with(func(f url.Values) { f.Set("Body", strings.Repeat("x", 1601)) }), 400, 21617},
		{"bad PageSize", "GET", path + "?PageSize=x", account, token, "", 400, 21100},
		{"bad DateSent", "GET", path + "?DateSent%3E=yesterday", account, token, "", 400, 21100},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(tc.method, srv.URL+tc.path, strings.NewReader(tc.body))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			if tc.user != "" {
				req.SetBasicAuth(tc.user, tc.pass)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var e struct{ Code, Status int }
			if err := json.NewDecoder(resp.Body).Decode(&e); err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tc.status || e.Code != tc.code || e.Status != tc.status {
				t.Errorf("answered %d with code %d (status %d), want %d with code %d", resp.StatusCode, e.Code, e.Status, tc.status, tc.code)
			}
		})
	}
	if n := g.Taken(); n != 0 {
		t.Errorf("took %d messages, want none", n)
	}
}

// TestGatewayServesServesClient: serve's own Twilio client sends through
// the gateway and finds what it sent in its list, newest first, paged.
func TestGatewayServesServesClient(t *testing.T) {
	at := time.Date(2027, 3, 14, 15, 9, 26, 0, time.UTC)
	g, srv := newGateway(t, func() time.Time { at = at.Add(time.Second); return at })
	c := &twilio.Client{BaseURL: srv.URL, AccountSID: account, AuthToken: token}
	ctx := context.Background()
	mt := donation.MT{To: "+12125550100", From: "62262", Body: "Your PIN is 123456."}
	var sids []string
	for range 3 {
		sid, err := c.Send(ctx, mt)
		if err != nil {
			t.Fatal(err)
		}
		if !regexp.MustCompile(`^SM[0-9a-f]{32}$`).MatchString(sid) {
			t.Errorf("sid %q is not an SM sid", sid)
		}
		sids = append(sids, sid)
	}
	if _, err := c.Send(ctx, donation.MT{To: "+12125550199", From: "62262", Body: "other"}); err != nil {
		t.Fatal(err)
	}
	got, err := c.Sent(ctx, mt, at.Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(got, ",") != strings.Join(sids, ",") {
		t.Errorf("Sent = %v, want %v", got, sids)
	}
	wrong := &twilio.Client{BaseURL: srv.URL, AccountSID: account, AuthToken: "wrong"}
	if _, err := wrong.Send(ctx, mt); !strings.Contains(err.Error(), "401") {
		t.Errorf("a send with a wrong token: %v, want a 401", err)
	}

	// Newest first, filtered, in pages linked by next_page_uri.
	list := func(u string) (msgs []string, next string) {
		t.Helper()
		req, _ := http.NewRequest("GET", srv.URL+u, nil)
		req.SetBasicAuth(account, token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var l struct {
			Messages []struct{ SID, To, Status string }
			Next     *string `json:"next_page_uri"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&l); err != nil {
			t.Fatal(err)
		}
		for _, m := range l.Messages {
			msgs = append(msgs, m.SID)
		}
		if l.Next != nil {
			next = *l.Next
		}
		return msgs, next
	}
	base := "/2010-04-01/Accounts/" + account + "/Messages.json"
	page, next := list(base + "?To=%2B12125550100&PageSize=2")
	if len(page) != 2 || page[0] != sids[2] || page[1] != sids[1] || next == "" {
		t.Fatalf("first page %v, next %q; want %v newest first and a next page", page, next, sids[1:])
	}
	page, next = list(next)
	if len(page) != 1 || page[0] != sids[0] || next != "" {
		t.Errorf("second page %v, next %q; want [%s] and no next page", page, next, sids[0])
	}
	if all, _ := list(base); len(all) != 4 {
		t.Errorf("the whole list has %d messages, want 4", len(all))
	}
	for _, tc := range []struct {
		query string
		want  int
	}{
		{"?DateSent=2027-03-14", 4},
		{"?DateSent=2027-03-13", 0},
		{"?DateSent%3E=2027-03-14", 4},
		{"?DateSent%3E=2027-03-15", 0},
		{"?DateSent%3C=2027-03-13", 0},
		{"?From=62263", 0},
		{"?From=62262&To=%2B12125550199", 1},
	} {
		if got, _ := list(base + tc.query); len(got) != tc.want {
			t.Errorf("%s: %d messages, want %d", tc.query, len(got), tc.want)
		}
	}

	// A donor waiting for its next text gets it once it is sent.
	wait, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	done := make(chan loadtest.Message)
	go func() {
		m, err := g.Next(wait, "+12125550177", 0)
		if err != nil {
			t.Error(err)
		}
		done <- m
	}()
	if _, err := c.Send(ctx, donation.MT{To: "+12125550177", From: "62262", Body: "late"}); err != nil {
		t.Fatal(err)
	}
	if m := <-done; m.Body != "late" {
		t.Errorf("Next = %+v, want the text sent", m)
	}
	short, cancel2 := context.WithTimeout(ctx, 10*time.Millisecond)
	defer cancel2()
	if _, err := g.Next(short, "+12125550177", 1); err == nil {
		t.Error("Next returned with no new text")
	}
}

// TestWebhookSendsWhatServeTakes: the MOs are signed and shaped as
// serve's webhook requires, and a 5xx answer is posted again, with the same
// MessageSid, as a gateway retries.
func TestWebhookSendsWhatServeTakes(t *testing.T) {
	mos := &donationtest.MOs{}
	w := &twilio.Webhook{AuthToken: token, AccountSID: account, MOs: mos, Log: slog.New(slog.DiscardHandler)}
	r := httpserver.New(nil, nil, nil, "")
	w.Register(r)
	// The webhook is reached through a proxy: signatures are over the
	// public URL.
	w.PublicURL = "https://sms.example.org"
	fails := 1
	srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, req *http.Request) {
		if fails > 0 {
			fails--
			io.Copy(io.Discard, req.Body)
			http.Error(rw, "busy", http.StatusServiceUnavailable)
			return
		}
		r.Handler().ServeHTTP(rw, req)
	}))
	defer srv.Close()
	h := &loadtest.Webhook{URL: srv.URL + twilio.SMSPath, SignURL: "https://sms.example.org" + twilio.SMSPath,
		AccountSID: account, AuthToken: token, HTTP: srv.Client(), Backoff: time.Millisecond}
	sid, as := h.Send(context.Background(), "+12125550100", "62262", "GIVE 10")
	if len(as) != 2 || as[0].Status != 503 || as[1].Status != 200 {
		t.Fatalf("attempts %+v, want a 503 then a 200", as)
	}
	got := mos.Got()
	if len(got) != 1 || got[0].MessageID != sid || got[0].From != "+12125550100" || got[0].To != "62262" || got[0].Body != "GIVE 10" {
		t.Errorf("the webhook got %+v, want the one MO %s", got, sid)
	}

	// Signed with another token, it is refused, and not posted again.
	h.AuthToken = "other"
	if _, as := h.Send(context.Background(), "+12125550100", "62262", "YES"); len(as) != 1 || as[0].Status != 403 {
		t.Errorf("attempts %+v, want one 403", as)
	}
}
