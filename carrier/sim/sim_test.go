package sim_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shortcode/shortcode/carrier/sim"
	"github.com/shortcode/shortcode/carrier/twilio"
	"github.com/shortcode/shortcode/donation/donationtest"
	"github.com/shortcode/shortcode/donation/httpserver"
)

const (
	token   = "sim-test-token"
	account = sim.DefaultAccountSID
	phone   = "+12025550142"
	short   = "41444"
)

var quiet = slog.New(slog.DiscardHandler)

// newClock returns a clock that moves one second on each reading.
func newClock() *donationtest.Clock {
	c := donationtest.NewClock(time.Date(2026, 3, 14, 15, 9, 26, 0, time.UTC))
	c.Tick = time.Second
	return c
}

// startSim serves a simulator configured by cfg (with test defaults) on a
// loopback server.
func startSim(t *testing.T, cfg sim.Config) (*sim.Sim, *httptest.Server) {
	t.Helper()
	if cfg.AuthToken == "" {
		cfg.AuthToken = token
	}
	if cfg.Log == nil {
		cfg.Log = quiet
	}
	if cfg.Backoff == 0 {
		cfg.Backoff = time.Millisecond
	}
	s := sim.New(cfg)
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(func() {
		srv.Close()
		s.Close()
	})
	return s, srv
}

// startWebhook serves the real twilio.Webhook on a loopback server.
func startWebhook(t *testing.T, mos twilio.MOHandler, sts twilio.StatusRecorder) *httptest.Server {
	t.Helper()
	w := &twilio.Webhook{AuthToken: token, AccountSID: account, MOs: mos, Statuses: sts, Log: quiet}
	r := httpserver.New(nil, nil, nil, "")
	w.Register(r)
	srv := httptest.NewServer(r.Handler())
	t.Cleanup(srv.Close)
	w.PublicURL = srv.URL
	return srv
}

// phoneAnswer is the simulator's answer to a phone.
type phoneAnswer struct {
	SID             string `json:"sid"`
	WebhookStatus   int    `json:"webhook_status"`
	Attempts        int    `json:"attempts"`
	DuplicateStatus int    `json:"duplicate_status"`
	Error           string `json:"error"`
}

// phoneSends posts an MO from phone e164 through the simulator's HTTP API.
func phoneSends(t *testing.T, srv *httptest.Server, e164 string, form url.Values, header http.Header) (int, phoneAnswer) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, srv.URL+"/phones/"+e164+"/messages", strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var a phoneAnswer
	if err := json.NewDecoder(resp.Body).Decode(&a); err != nil {
		t.Fatalf("phone answer: %v", err)
	}
	return resp.StatusCode, a
}

func TestPhoneMOReachesWebhook(t *testing.T) {
	mos := &donationtest.MOs{}
	hook := startWebhook(t, mos, &donationtest.Statuses{})
	_, srv := startSim(t, sim.Config{WebhookURL: hook.URL + twilio.SMSPath})

	code, a := phoneSends(t, srv, phone, url.Values{"To": {short}, "Body": {"GIVE"}}, nil)
	if code != 200 || a.WebhookStatus != 200 {
		t.Fatalf("phone got %d %+v, want 200", code, a)
	}
	if len(a.SID) != 34 || !strings.HasPrefix(a.SID, "SM") {
		t.Errorf("sid %q is not SM + 32 hex", a.SID)
	}
	got := mos.Got()
	if len(got) != 1 {
		t.Fatalf("webhook handed on %d MOs, want 1", len(got))
	}
	mo := got[0]
	if mo.Gateway != "twilio" || mo.MessageID != a.SID || mo.From != phone || mo.To != short || mo.Body != "GIVE" {
		t.Errorf("MO = %+v", mo)
	}
}

// The webhook sees exactly the fields of SPEC §12.1, signed with the auth
// token over the webhook URL.
func TestPhoneMOSigned(t *testing.T) {
	var mu sync.Mutex
	var forms []url.Values
	var hookURL string
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			t.Error(err)
		}
		if !twilio.ValidSignature(token, hookURL, r.PostForm, r.Header.Get(twilio.SignatureHeader)) {
			t.Error("bad signature")
			w.WriteHeader(http.StatusForbidden)
			return
		}
		mu.Lock()
		forms = append(forms, r.PostForm)
		mu.Unlock()
	}))
	defer hook.Close()
	hookURL = hook.URL + "/gateways/twilio/sms?tenant=a%20b"
	s, _ := startSim(t, sim.Config{WebhookURL: hookURL})

	d, err := s.SendMO(context.Background(), sim.PhoneMO{From: phone, To: short, Body: "Oui, 10 € 👍"})
	if err != nil || d.Status != 200 || d.Attempts != 1 {
		t.Fatalf("SendMO = %+v, %v", d, err)
	}
	if len(forms) != 1 {
		t.Fatalf("%d deliveries, want 1", len(forms))
	}
	f := forms[0]
	want := map[string]string{
		"MessageSid": d.SID, "AccountSid": account, "From": phone, "To": short,
		"Body": "Oui, 10 € 👍", "NumMedia": "0", "NumSegments": "1",
	}
	for k, v := range want {
		if f.Get(k) != v {
			t.Errorf("%s = %q, want %q", k, f.Get(k), v)
		}
	}
}

// A webhook behind a proxy: the simulator posts to one address and signs
// over the public one.
func TestPhoneMOSignURL(t *testing.T) {
	const public = "https://sms.example.org"
	mos := &donationtest.MOs{}
	w := &twilio.Webhook{AuthToken: token, AccountSID: account, PublicURL: public, MOs: mos, Statuses: &donationtest.Statuses{}, Log: quiet}
	r := httpserver.New(nil, nil, nil, "")
	w.Register(r)
	hook := httptest.NewServer(r.Handler())
	defer hook.Close()

	s, _ := startSim(t, sim.Config{WebhookURL: hook.URL + twilio.SMSPath, SignURL: public + twilio.SMSPath})
	if d, err := s.SendMO(context.Background(), sim.PhoneMO{From: phone, To: short, Body: "GIVE"}); err != nil || d.Status != 200 {
		t.Fatalf("SendMO = %+v, %v", d, err)
	}
	if len(mos.Got()) != 1 {
		t.Error("MO not handed on")
	}
}

func TestPhoneMORetry(t *testing.T) {
	var mu sync.Mutex
	calls := 0
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		calls++
		if calls <= 2 {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	defer hook.Close()
	_, srv := startSim(t, sim.Config{WebhookURL: hook.URL})

	code, a := phoneSends(t, srv, phone, url.Values{"To": {short}, "Body": {"YES"}}, nil)
	if code != 200 || a.WebhookStatus != 200 || a.Attempts != 3 {
		t.Errorf("phone got %d %+v, want 200 after 3 attempts", code, a)
	}
	if calls != 3 {
		t.Errorf("webhook called %d times, want 3", calls)
	}
}

func TestPhoneMOGivesUp(t *testing.T) {
	var mu sync.Mutex
	calls := 0
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		calls++
		mu.Unlock()
		w.WriteHeader(http.StatusInternalServerError)
	}))
	defer hook.Close()
	_, srv := startSim(t, sim.Config{WebhookURL: hook.URL, Attempts: 4})

	code, a := phoneSends(t, srv, phone, url.Values{"To": {short}, "Body": {"YES"}}, nil)
	if code != http.StatusBadGateway || a.WebhookStatus != 500 || a.Attempts != 4 || a.Error == "" {
		t.Errorf("phone got %d %+v, want 502 after 4 attempts", code, a)
	}
	if calls != 4 {
		t.Errorf("webhook called %d times, want 4", calls)
	}
}

func TestPhoneMOUnreachable(t *testing.T) {
	hook := httptest.NewServer(http.NotFoundHandler())
	hookURL := hook.URL
	hook.Close()
	s, srv := startSim(t, sim.Config{WebhookURL: hookURL, Attempts: 2})

	code, a := phoneSends(t, srv, phone, url.Values{"To": {short}, "Body": {"YES"}}, nil)
	if code != http.StatusBadGateway || a.WebhookStatus != 0 || a.Attempts != 2 {
		t.Errorf("phone got %d %+v, want 502 after 2 attempts", code, a)
	}
	if _, err := s.SendMO(context.Background(), sim.PhoneMO{From: phone, To: short}); err == nil {
		t.Error("SendMO to a closed port succeeded")
	}
}

// A 4xx answer is final: passed back to the phone, never retried.
func TestPhoneMOWebhookRefuses(t *testing.T) {
	for _, status := range []int{400, 403, 404} {
		var mu sync.Mutex
		calls := 0
		hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			calls++
			mu.Unlock()
			w.WriteHeader(status)
		}))
		_, srv := startSim(t, sim.Config{WebhookURL: hook.URL})
		code, a := phoneSends(t, srv, phone, url.Values{"To": {short}, "Body": {"YES"}}, nil)
		if code != status || a.WebhookStatus != status || a.SID == "" {
			t.Errorf("webhook %d: phone got %d %+v", status, code, a)
		}
		if calls != 1 {
			t.Errorf("webhook %d: called %d times, want 1", status, calls)
		}
		hook.Close()
	}
}

// A wrong auth token in the simulator is refused by the webhook (403).
func TestPhoneMOWrongToken(t *testing.T) {
	mos := &donationtest.MOs{}
	hook := startWebhook(t, mos, &donationtest.Statuses{})
	_, srv := startSim(t, sim.Config{WebhookURL: hook.URL + twilio.SMSPath, AuthToken: "not-the-token"})
	code, a := phoneSends(t, srv, phone, url.Values{"To": {short}, "Body": {"GIVE"}}, nil)
	if code != 403 || a.WebhookStatus != 403 {
		t.Errorf("phone got %d %+v, want 403", code, a)
	}
	if len(mos.Got()) != 0 {
		t.Error("MO handed on")
	}
}

func TestPhoneMODuplicate(t *testing.T) {
	tests := []struct {
		name   string
		form   url.Values
		header http.Header
	}{
		{"Header", url.Values{"To": {short}, "Body": {"GIVE"}}, http.Header{"X-Sim-Duplicate": {"1"}}},
		{"Field", url.Values{"To": {short}, "Body": {"GIVE"}, "SimDuplicate": {"1"}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var mu sync.Mutex
			var sids []string
			var sigs []string
			hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				r.ParseForm()
				mu.Lock()
				defer mu.Unlock()
				sids = append(sids, r.PostForm.Get("MessageSid"))
				sigs = append(sigs, r.Header.Get(twilio.SignatureHeader))
				if _, ok := r.PostForm["SimDuplicate"]; ok {
					t.Error("the knob leaked into the MO")
				}
			}))
			defer hook.Close()
			_, srv := startSim(t, sim.Config{WebhookURL: hook.URL})
			code, a := phoneSends(t, srv, phone, tt.form, tt.header)
			if code != 200 || a.DuplicateStatus != 200 {
				t.Errorf("phone got %d %+v", code, a)
			}
			if len(sids) != 2 || sids[0] != a.SID || sids[1] != a.SID || sigs[0] != sigs[1] {
				t.Errorf("deliveries %v, want %s twice with the same signature", sids, a.SID)
			}
		})
	}
}

// Through the real webhook, the second delivery is answered 200 as a
// duplicate and handed on once.
func TestPhoneMODuplicateThroughWebhook(t *testing.T) {
	mos := &donationtest.MOs{}
	hook := startWebhook(t, mos, &donationtest.Statuses{})
	s, _ := startSim(t, sim.Config{WebhookURL: hook.URL + twilio.SMSPath})
	d, err := s.SendMO(context.Background(), sim.PhoneMO{From: phone, To: short, Body: "YES", Duplicate: true})
	if err != nil || d.Status != 200 || d.DuplicateStatus != 200 {
		t.Fatalf("SendMO = %+v, %v", d, err)
	}
	if n := len(mos.Got()); n != 1 {
		t.Errorf("%d MOs handed on, want 1", n)
	}
}

func TestPhoneBadRequests(t *testing.T) {
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Error("webhook called")
	}))
	defer hook.Close()
	_, srv := startSim(t, sim.Config{WebhookURL: hook.URL})
	tests := []struct {
		name  string
		phone string
		form  url.Values
	}{
		{"NoPlus", "12025550142", url.Values{"To": {short}}},
		{"Letters", "+1202555ABCD", url.Values{"To": {short}}},
		{"TooLong", "+1202555014212345", url.Values{"To": {short}}},
		{"Escaped", url.PathEscape("+1 202"), url.Values{"To": {short}}},
		{"NoTo", phone, url.Values{"Body": {"GIVE"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, a := phoneSends(t, srv, tt.phone, tt.form, nil)
			if code != http.StatusBadRequest || a.Error == "" {
				t.Errorf("got %d %+v, want 400 with an error", code, a)
			}
			if strings.Contains(a.Error, "2025550") {
				t.Errorf("error %q shows the phone number", a.Error)
			}
		})
	}
}

// readAll reads and closes a response body.
func readAll(t *testing.T, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
