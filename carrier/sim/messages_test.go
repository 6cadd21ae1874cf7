package sim_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shortcode/shortcode/carrier/sim"
	"github.com/shortcode/shortcode/carrier/twilio"
	"github.com/shortcode/shortcode/donation"
	"github.com/shortcode/shortcode/donation/donationtest"
)

const messagesPath = "/2010-04-01/Accounts/" + account + "/Messages.json"

// apiCall makes a request to the simulator's Messages API.
func apiCall(t *testing.T, srv *httptest.Server, method, path, user, pass string, form url.Values) (int, string) {
	t.Helper()
	var body *strings.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	} else {
		body = strings.NewReader("")
	}
	req, err := http.NewRequest(method, srv.URL+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if user != "" || pass != "" {
		req.SetBasicAuth(user, pass)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, readAll(t, resp)
}

type apiError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
	Status  int    `json:"status"`
}

func TestMessagesAuth(t *testing.T) {
	_, srv := startSim(t, sim.Config{})
	form := url.Values{"To": {phone}, "From": {short}, "Body": {"hi"}}
	otherAccount := "/2010-04-01/Accounts/AC11111111111111111111111111111111/Messages.json"
	tests := []struct {
		name       string
		method     string
		path       string
		user, pass string
		status     int
		code       int
	}{
		{"OK", "POST", messagesPath, account, token, 201, 0},
		{"NoAuth", "POST", messagesPath, "", "", 401, 20003},
		{"WrongToken", "POST", messagesPath, account, "wrong", 401, 20003},
		{"WrongUser", "POST", messagesPath, "AC11111111111111111111111111111111", token, 401, 20003},
		{"EmptyToken", "POST", messagesPath, account, "", 401, 20003},
		{"OtherAccount", "POST", otherAccount, account, token, 404, 20404},
		{"ListNoAuth", "GET", messagesPath, "", "", 401, 20003},
		{"ListWrongToken", "GET", messagesPath, account, "wrong", 401, 20003},
		{"ListOtherAccount", "GET", otherAccount, account, token, 404, 20404},
		{"ListOK", "GET", messagesPath, account, token, 200, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := form
			if tt.method == "GET" {
				f = nil
			}
			status, body := apiCall(t, srv, tt.method, tt.path, tt.user, tt.pass, f)
			if status != tt.status {
				t.Fatalf("status = %d, want %d (%s)", status, tt.status, body)
			}
			if tt.code != 0 {
				var e apiError
				if err := json.Unmarshal([]byte(body), &e); err != nil {
					t.Fatalf("error body %q: %v", body, err)
				}
				if e.Code != tt.code || e.Status != tt.status || e.Message == "" {
					t.Errorf("error = %+v, want code %d", e, tt.code)
				}
			}
		})
	}
}

func TestCreateMessageValidation(t *testing.T) {
	s, srv := startSim(t, sim.Config{})
	ok := func(mod func(url.Values)) url.Values {
		f := url.Values{"To": {phone}, "From": {short}, "Body": {"hi"}}
		mod(f)
		return f
	}
	tests := []struct {
		name string
		form url.Values
		code int
	}{
		{"NoTo", ok(func(f url.Values) { f.Del("To") }), 21604},
		{"BadTo", ok(func(f url.Values) { f.Set("To", "2025550142") }), 21211},
		{"NoFrom", ok(func(f url.Values) { f.Del("From") }), 21603},
		{"NoBody", ok(func(f url.Values) { f.Del("Body") }), 21602},
		{"LongBody", ok(func(f url.Values) { f.Set("Body", strings.Repeat("é", 1601)) }), 21617},
		{"BadCallback", ok(func(f url.Values) { f.Set("StatusCallback", "ftp://x") }), 21609},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := apiCall(t, srv, "POST", messagesPath, account, token, tt.form)
			var e apiError
			if err := json.Unmarshal([]byte(body), &e); err != nil {
				t.Fatalf("body %q: %v", body, err)
			}
			if status != 400 || e.Code != tt.code || e.Status != 400 {
				t.Errorf("got %d %+v, want 400 code %d", status, e, tt.code)
			}
		})
	}
	if status, _ := apiCall(t, srv, "POST", messagesPath, account, token,
		ok(func(f url.Values) { f.Set("Body", strings.Repeat("é", 1600)) })); status != 201 {
		t.Errorf("1600 characters: status %d, want 201", status)
	}
	if n := len(s.Messages("")); n != 1 {
		t.Errorf("%d messages stored, want 1", n)
	}
}

// wireMessage is a message as the simulator lists it.
type wireMessage struct {
	SID         string `json:"sid"`
	AccountSID  string `json:"account_sid"`
	To          string `json:"to"`
	From        string `json:"from"`
	Body        string `json:"body"`
	Status      string `json:"status"`
	DateCreated string `json:"date_created"`
}

// The twilio adapter sends through the simulator; the simulator lists the
// MTs newest first, like Twilio.
func TestSendAndList(t *testing.T) {
	clk := newClock()
	s, srv := startSim(t, sim.Config{Now: clk.Now})
	c := &twilio.Client{BaseURL: srv.URL, AccountSID: account, AuthToken: token}
	other := "+12025550199"

	var sids []string
	for i, mt := range []donation.MT{
		{To: phone, From: short, Body: "first"},
		{To: other, From: short, Body: "other"},
		{To: phone, From: short, Body: "second"},
		{To: phone, From: short, Body: "third"},
	} {
		sid, err := c.Send(context.Background(), mt)
		if err != nil {
			t.Fatalf("Send %d: %v", i, err)
		}
		if len(sid) != 34 || !strings.HasPrefix(sid, "SM") {
			t.Errorf("sid %q is not SM + 32 hex", sid)
		}
		sids = append(sids, sid)
	}

	status, body := apiCall(t, srv, "GET", messagesPath+"?To="+url.QueryEscape(phone), account, token, nil)
	if status != 200 {
		t.Fatalf("list: %d %s", status, body)
	}
	var list struct{ Messages []wireMessage }
	if err := json.Unmarshal([]byte(body), &list); err != nil {
		t.Fatal(err)
	}
	wantBodies := []string{"third", "second", "first"}
	wantSIDs := []string{sids[3], sids[2], sids[0]}
	if len(list.Messages) != 3 {
		t.Fatalf("listed %d messages, want 3: %s", len(list.Messages), body)
	}
	var prev time.Time
	for i, m := range list.Messages {
		if m.Body != wantBodies[i] || m.SID != wantSIDs[i] || m.To != phone || m.From != short ||
			m.AccountSID != account || m.Status != "delivered" {
			t.Errorf("message %d = %+v", i, m)
		}
		at, err := time.Parse(time.RFC1123Z, m.DateCreated)
		if err != nil {
			t.Errorf("date_created %q: %v", m.DateCreated, err)
		}
		if i > 0 && !at.Before(prev) {
			t.Errorf("message %d created %v, not before %v", i, at, prev)
		}
		prev = at
	}

	status, body = apiCall(t, srv, "GET", messagesPath+"?From=99999", account, token, nil)
	if err := json.Unmarshal([]byte(body), &list); err != nil || status != 200 || len(list.Messages) != 0 {
		t.Errorf("list from another sender = %d %s", status, body)
	}

	status, body = apiCall(t, srv, "GET", messagesPath, account, token, nil)
	if err := json.Unmarshal([]byte(body), &list); err != nil || status != 200 {
		t.Fatal(status, err)
	}
	if len(list.Messages) != 4 || list.Messages[0].Body != "third" || list.Messages[3].Body != "first" {
		t.Errorf("full list = %+v", list.Messages)
	}

	// The phone's own inbox needs no credentials and lists only its texts.
	status, body = apiCall(t, srv, "GET", "/phones/"+phone+"/messages", "", "", nil)
	if err := json.Unmarshal([]byte(body), &list); err != nil || status != 200 {
		t.Fatal(status, err)
	}
	if len(list.Messages) != 3 || list.Messages[0].Body != "third" || list.Messages[2].Body != "first" {
		t.Errorf("inbox = %+v", list.Messages)
	}

	in := s.Messages(phone)
	if len(in) != 3 || in[0].Body != "third" || in[2].Body != "first" || in[0].Status != "delivered" {
		t.Errorf("Messages(%s) = %+v", phone, in)
	}
	if got := s.Messages("+12025550100"); len(got) != 0 {
		t.Errorf("Messages for a number never texted = %+v", got)
	}
}

func TestCreateMessageAnswer(t *testing.T) {
	clk := newClock()
	_, srv := startSim(t, sim.Config{Now: clk.Now})
	status, body := apiCall(t, srv, "POST", messagesPath, account, token,
		url.Values{"To": {phone}, "From": {short}, "Body": {"Thanks!"}})
	if status != 201 {
		t.Fatalf("status %d: %s", status, body)
	}
	var m wireMessage
	if err := json.Unmarshal([]byte(body), &m); err != nil {
		t.Fatal(err)
	}
	if m.Status != "queued" || m.To != phone || m.From != short || m.Body != "Thanks!" || m.AccountSID != account {
		t.Errorf("answer = %+v", m)
	}
	if m.DateCreated != "Sat, 14 Mar 2026 15:09:27 +0000" {
		t.Errorf("date_created = %q", m.DateCreated)
	}
}

// The adapter's error handling against the simulator's answers.
func TestClientAgainstSim(t *testing.T) {
	_, srv := startSim(t, sim.Config{})
	bad := &twilio.Client{BaseURL: srv.URL, AccountSID: account, AuthToken: "wrong"}
	_, err := bad.Send(context.Background(), donation.MT{To: phone, From: short, Body: "x"})
	var apiErr *twilio.APIError
	if !errors.As(err, &apiErr) || apiErr.Code != 20003 || errors.Is(err, donation.ErrRejected) {
		t.Errorf("bad token: %v, want a retryable 20003", err)
	}
	good := &twilio.Client{BaseURL: srv.URL, AccountSID: account, AuthToken: token}
	_, err = good.Send(context.Background(), donation.MT{To: "12025550142", From: short, Body: "x"})
	if !errors.Is(err, donation.ErrRejected) || !errors.As(err, &apiErr) || apiErr.Code != 21211 {
		t.Errorf("bad To: %v, want rejected 21211", err)
	}
}

// A StatusCallback is posted, signed, to the real webhook.
func TestStatusCallback(t *testing.T) {
	sts := &donationtest.Statuses{}
	hook := startWebhook(t, &donationtest.MOs{}, sts)
	s, srv := startSim(t, sim.Config{})
	c := &twilio.Client{BaseURL: srv.URL, AccountSID: account, AuthToken: token,
		StatusCallback: hook.URL + twilio.StatusPath}

	sid, err := c.Send(context.Background(), donation.MT{To: phone, From: short, Body: "hello"})
	if err != nil {
		t.Fatal(err)
	}
	s.Wait() // for the callback
	got := sts.Got()
	if len(got) != 1 || got[0].SID != sid || got[0].Status != donation.DeliveryDelivered {
		t.Errorf("callbacks = %v, want [%s delivered]", got, sid)
	}
	if m := s.Messages(phone); len(m) != 1 || m[0].Status != "delivered" || m[0].StatusCallback != c.StatusCallback {
		t.Errorf("stored = %+v", m)
	}
}

func TestStatusCallbackRetry(t *testing.T) {
	var mu sync.Mutex
	var calls int
	var form url.Values
	var cbURL string
	cb := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		if !twilio.ValidSignature(token, cbURL, r.PostForm, r.Header.Get(twilio.SignatureHeader)) {
			t.Error("bad signature on the status callback")
		}
		mu.Lock()
		defer mu.Unlock()
		calls++
		if calls == 1 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		form = r.PostForm
	}))
	defer cb.Close()
	cbURL = cb.URL + "/status?mt=42"

	s, srv := startSim(t, sim.Config{})
	status, body := apiCall(t, srv, "POST", messagesPath, account, token,
		url.Values{"To": {phone}, "From": {short}, "Body": {"hi"}, "StatusCallback": {cbURL}})
	if status != 201 {
		t.Fatalf("%d %s", status, body)
	}
	s.Wait()
	if calls != 2 {
		t.Errorf("callback posted %d times, want 2", calls)
	}
	if form.Get("MessageStatus") != "delivered" || form.Get("AccountSid") != account || !strings.HasPrefix(form.Get("MessageSid"), "SM") {
		t.Errorf("callback form = %v", form)
	}
}

// After Close, no callback starts, and MTs are still accepted.
func TestCloseStopsCallbacks(t *testing.T) {
	cb := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Error("callback after Close")
	}))
	defer cb.Close()
	s, srv := startSim(t, sim.Config{})
	s.Close()
	status, _ := apiCall(t, srv, "POST", messagesPath, account, token,
		url.Values{"To": {phone}, "From": {short}, "Body": {"hi"}, "StatusCallback": {cb.URL}})
	if status != 201 {
		t.Errorf("status %d, want 201", status)
	}
	s.Close()
}

// TestSlowMessagesAPI: with MessagesLatency the simulator takes an MT and
// only then holds its answer; a client that gives up meanwhile does not
// learn the sid, and finds the MT in the list (what the outbox resolves
// an unknown outcome against).
func TestSlowMessagesAPI(t *testing.T) {
	s, srv := startSim(t, sim.Config{})
	s.SetFaults(sim.Faults{MessagesLatency: time.Minute})
	c := &twilio.Client{BaseURL: srv.URL, AccountSID: account, AuthToken: token}
	mt := donation.MT{To: phone, From: short, Body: "slow"}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if sid, err := c.Send(ctx, mt); err == nil || errors.Is(err, donation.ErrNotSent) {
		t.Fatalf("Send through a held answer = %q, %v; want an unknown outcome", sid, err)
	}
	sids, err := c.Sent(context.Background(), mt, time.Now().Add(-time.Minute))
	if err != nil || len(sids) != 1 || len(s.Messages(phone)) != 1 || sids[0] != s.Messages(phone)[0].SID {
		t.Errorf("Sent = %v, %v; want the one message the simulator took", sids, err)
	}
}
