package twilio_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shortcode/shortcode/carrier/twilio"
	"github.com/shortcode/shortcode/donation"
)

const (
	testAccount = "AC0123456789abcdef0123456789abcdef"
	messagesURI = "/2010-04-01/Accounts/" + testAccount + "/Messages.json"
)

// gatewayRequest is what the fake gateway received.
type gatewayRequest struct {
	Method, Path, User, Pass string
	BasicAuth                bool
	ContentType              string
	Form                     url.Values
}

// fakeGateway answers every request with status and body, and records it.
func fakeGateway(t *testing.T, status int, body string) (*httptest.Server, func() []gatewayRequest) {
	t.Helper()
	var mu sync.Mutex
	var reqs []gatewayRequest
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, pass, ok := r.BasicAuth()
		if err := r.ParseForm(); err != nil {
			t.Errorf("gateway: %v", err)
		}
		mu.Lock()
		reqs = append(reqs, gatewayRequest{r.Method, r.URL.Path, user, pass, ok, r.Header.Get("Content-Type"), r.PostForm})
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		w.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)
	return srv, func() []gatewayRequest {
		mu.Lock()
		defer mu.Unlock()
		return append([]gatewayRequest(nil), reqs...)
	}
}

var testMT = donation.MT{To: "+12025554321", From: "41444", Body: "Reply YES to give $10", DonationID: "d1"}

func TestClientSend(t *testing.T) {
	srv, reqs := fakeGateway(t, http.StatusCreated,
		`{"sid":"SM0123456789abcdef0123456789abcdef","status":"queued","to":"+12025554321"}`)
	c := &twilio.Client{BaseURL: srv.URL + "/", AccountSID: testAccount, AuthToken: "tok",
		StatusCallback: "https://sms.example.org/gateways/twilio/status"}

	sid, err := c.Send(context.Background(), testMT)
	if err != nil {
		t.Fatalf("Send: %v", err)
	}
	if sid != "SM0123456789abcdef0123456789abcdef" {
		t.Errorf("sid = %q", sid)
	}
	got := reqs()
	if len(got) != 1 {
		t.Fatalf("%d requests, want 1", len(got))
	}
	r := got[0]
	if r.Method != http.MethodPost || r.Path != messagesURI {
		t.Errorf("request %s %s, want POST %s", r.Method, r.Path, messagesURI)
	}
	if !r.BasicAuth || r.User != testAccount || r.Pass != "tok" {
		t.Errorf("basic auth = %v %q:%q", r.BasicAuth, r.User, r.Pass)
	}
	if r.ContentType != "application/x-www-form-urlencoded" {
		t.Errorf("Content-Type = %q", r.ContentType)
	}
	want := url.Values{
		"To":             {"+12025554321"},
		"From":           {"41444"},
		"Body":           {"Reply YES to give $10"},
		"StatusCallback": {"https://sms.example.org/gateways/twilio/status"},
	}
	if r.Form.Encode() != want.Encode() {
		t.Errorf("form = %v\nwant %v", r.Form, want)
	}
}

func TestClientSendNoStatusCallback(t *testing.T) {
	srv, reqs := fakeGateway(t, http.StatusOK, `{"sid":"SM1"}`)
	c := &twilio.Client{BaseURL: srv.URL, AccountSID: testAccount, AuthToken: "tok"}
	if sid, err := c.Send(context.Background(), testMT); err != nil || sid != "SM1" {
		t.Fatalf("Send = %q, %v", sid, err)
	}
	if _, ok := reqs()[0].Form["StatusCallback"]; ok {
		t.Error("StatusCallback sent although unset")
	}
}

func TestClientSendErrors(t *testing.T) {
	tests := []struct {
		name         string
		status       int
		body         string
		unsubscribed bool
		rejected     bool
		notSent      bool // the gateway surely did not take it
		code         int  // APIError.Code; -1 when no APIError is expected
	}{
		{name: "Unsubscribed", status: 400, body: `{"code":21610,"message":"Attempt to send to unsubscribed recipient","more_info":"https://www.twilio.com/docs/errors/21610","status":400}`,
			unsubscribed: true, code: 21610},
		{name: "RateLimitedCode", status: 429, body: `{"code":20429,"message":"Too Many Requests","status":429}`, notSent: true, code: 20429},
		{name: "RateLimitedCodeOn400", status: 400, body: `{"code":20429,"message":"Too Many Requests","status":400}`, notSent: true, code: 20429},
		{name: "RateLimitedStatus", status: 429, body: `{"message":"slow down"}`, notSent: true, code: 0},
		{name: "InvalidTo", status: 400, body: `{"code":21211,"message":"The 'To' number +12025554321 is not a valid phone number.","status":400}`,
			rejected: true, code: 21211},
		{name: "Forbidden", status: 403, body: `{"code":21408,"message":"Permission to send an SMS has not been enabled","status":403}`,
			rejected: true, code: 21408},
		{name: "BadCredentials", status: 401, body: `{"code":20003,"message":"Authenticate","status":401}`, notSent: true, code: 20003},
		{name: "ServerError", status: 500, body: `{"code":20500,"message":"Internal Server Error","status":500}`, code: 20500},
		{name: "BadGatewayHTML", status: 502, body: `<html>bad gateway</html>`, code: 0},
		{name: "RejectedNotJSON", status: 404, body: `not found`, rejected: true, code: 0},
		{name: "BadJSON", status: 201, body: `{"sid":`, code: -1},
		{name: "NoSID", status: 201, body: `{"status":"queued"}`, code: -1},
		{name: "Redirect", status: 304, body: ``, code: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, _ := fakeGateway(t, tt.status, tt.body)
			c := &twilio.Client{BaseURL: srv.URL, AccountSID: testAccount, AuthToken: "tok"}
			sid, err := c.Send(context.Background(), testMT)
			if err == nil {
				t.Fatalf("Send = %q, nil; want an error", sid)
			}
			if got := errors.Is(err, donation.ErrUnsubscribed); got != tt.unsubscribed {
				t.Errorf("errors.Is(%v, ErrUnsubscribed) = %v, want %v", err, got, tt.unsubscribed)
			}
			if got := errors.Is(err, donation.ErrRejected); got != tt.rejected {
				t.Errorf("errors.Is(%v, ErrRejected) = %v, want %v", err, got, tt.rejected)
			}
			if got := errors.Is(err, donation.ErrNotSent); got != tt.notSent {
				t.Errorf("errors.Is(%v, ErrNotSent) = %v, want %v", err, got, tt.notSent)
			}
			var apiErr *twilio.APIError
			switch {
			case tt.code < 0:
				if errors.As(err, &apiErr) {
					t.Errorf("unexpected APIError %v", apiErr)
				}
			case !errors.As(err, &apiErr):
				t.Errorf("%v is not an APIError", err)
			default:
				if apiErr.Code != tt.code || apiErr.Status != tt.status {
					t.Errorf("APIError = %+v, want code %d status %d", apiErr, tt.code, tt.status)
				}
			}
			if strings.Contains(err.Error(), "+12025554321") {
				t.Errorf("error shows the phone number: %v", err)
			}
		})
	}
}

func TestClientSendNetworkError(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	base := srv.URL
	srv.Close() // nothing listens any more

	c := &twilio.Client{BaseURL: base, AccountSID: testAccount, AuthToken: "tok"}
	_, err := c.Send(context.Background(), testMT)
	if err == nil {
		t.Fatal("Send to a closed port succeeded")
	}
	if errors.Is(err, donation.ErrRejected) || errors.Is(err, donation.ErrUnsubscribed) {
		t.Errorf("network error %v is final, want retryable", err)
	}
	if !errors.Is(err, donation.ErrNotSent) {
		t.Errorf("refused connection %v: want ErrNotSent (nothing reached the gateway)", err)
	}
}

func TestClientSendTimeout(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)

	c := &twilio.Client{BaseURL: srv.URL, AccountSID: testAccount, AuthToken: "tok"}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := c.Send(ctx, testMT)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Send = %v, want a deadline error", err)
	}
	if errors.Is(err, donation.ErrRejected) {
		t.Error("timeout is final, want retryable")
	}
	if errors.Is(err, donation.ErrNotSent) {
		t.Error("timeout is ErrNotSent; the gateway may have taken the message")
	}
}

// TestClientSent: the message list is read newest first across pages back
// to since, and the matching messages come back oldest first.
func TestClientSent(t *testing.T) {
	const page2 = messagesURI + "?Page=1&PageSize=2&PageToken=p2"
	msg := func(sid, to, body, at string) string {
		return `{"sid":"` + sid + `","to":"` + to + `","from":"41444","body":"` + body + `","date_created":"` + at + `"}`
	}
	var queries []url.Values
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, _ := r.BasicAuth(); r.Method != http.MethodGet || r.URL.Path != messagesURI || u != testAccount || p != "tok" {
			t.Errorf("request %s %s as %s", r.Method, r.URL, u)
		}
		queries = append(queries, r.URL.Query())
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Query().Get("PageToken") == "" {
			io.WriteString(w, `{"messages":[`+
				msg("SMnew", testMT.To, testMT.Body, "Mon, 01 Mar 2027 12:00:05 +0000")+`,`+
				msg("SMother", testMT.To, "another text", "Mon, 01 Mar 2027 12:00:04 +0000")+
				`],"next_page_uri":"`+page2+`"}`)
			return
		}
		io.WriteString(w, `{"messages":[`+
			msg("SMmid", testMT.To, testMT.Body, "Mon, 01 Mar 2027 12:00:03 +0000")+`,`+
			msg("SMold", testMT.To, testMT.Body, "Mon, 01 Mar 2027 11:59:00 +0000")+
			`],"next_page_uri":"`+messagesURI+`?PageToken=p3"}`)
	}))
	defer srv.Close()
	c := &twilio.Client{BaseURL: srv.URL, AccountSID: testAccount, AuthToken: "tok"}
	since := time.Date(2027, 3, 1, 12, 0, 3, 500_000_000, time.UTC) // rounds down to :03
	got, err := c.Sent(context.Background(), testMT, since)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"SMmid", "SMnew"}; !slices.Equal(got, want) {
		t.Errorf("Sent = %v, want %v", got, want)
	}
	if len(queries) != 2 {
		t.Errorf("read %d pages, want 2 (page 2 reaches back past since)", len(queries))
	}
	if q := queries[0]; q.Get("To") != testMT.To || q.Get("From") != testMT.From {
		t.Errorf("first query %v, want filtered by To and From", q)
	}

	bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer bad.Close()
	c.BaseURL = bad.URL
	if _, err := c.Sent(context.Background(), testMT, since); err == nil {
		t.Error("Sent with the list answering 503: no error")
	}
}

func TestClientNotConfigured(t *testing.T) {
	c := &twilio.Client{}
	if _, err := c.Send(context.Background(), testMT); err == nil {
		t.Error("Send without BaseURL succeeded")
	} else if errors.Is(err, donation.ErrRejected) {
		t.Error("configuration error is final, want retryable")
	}
}

func TestAPIErrorMasksPhone(t *testing.T) {
	for _, tc := range []struct{ msg, want string }{
		{"The 'To' number +12025554321 is not valid", "The 'To' number +1******4321 is not valid"},
		{"The 'To' number (202) 555-4321 is not valid", "The 'To' number (2********4321 is not valid"},
		{"Number 120255543210123456789 too long", "Number 12***************6789 too long"},
	} {
		e := &twilio.APIError{Code: 21211, Message: tc.msg, Status: 400}
		if got, want := e.Error(), "twilio: error 21211: "+tc.want+" (HTTP 400)"; got != want {
			t.Errorf("Error() = %q, want %q", got, want)
		}
	}
}
