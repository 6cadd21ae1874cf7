package twilio_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/shortcode/shortcode/carrier/twilio"
	"github.com/shortcode/shortcode/donation"
	"github.com/shortcode/shortcode/donation/donationtest"
	"github.com/shortcode/shortcode/donation/httpserver"
)

const testToken = "test-auth-token"

var testNow = time.Date(2026, 3, 14, 15, 9, 26, 0, time.UTC)

// status is one recorded status callback, as donationtest.Status.
type status struct {
	SID       string
	Status    donation.DeliveryStatus
	ErrorCode string
	At        time.Time
}

// badInput is an error the domain marks as bad input.
type badInput struct{}

func (badInput) Error() string       { return "invalid phone number" }
func (badInput) Kind() donation.Kind { return donation.Invalid }

// notBadInput is an error of another kind.
type notBadInput struct{}

func (notBadInput) Error() string       { return "storage down" }
func (notBadInput) Kind() donation.Kind { return donation.Internal }

// newWebhook serves a Webhook on a loopback server.
func newWebhook(t *testing.T, mos twilio.MOHandler, sts twilio.StatusRecorder) *httptest.Server {
	t.Helper()
	w := &twilio.Webhook{
		AuthToken:  testToken,
		AccountSID: testAccount,
		MOs:        mos,
		Statuses:   sts,
		Now:        func() time.Time { return testNow },
		Log:        slog.New(slog.DiscardHandler),
	}
	r := httpserver.New(nil, nil, nil, "")
	w.Register(r)
	srv := httptest.NewServer(r.Handler())
	t.Cleanup(srv.Close)
	w.PublicURL = srv.URL
	return srv
}

// signing says how a test request is signed.
type signing int

const (
	signed signing = iota
	unsigned
	badlySigned
	wrongToken
)

// send posts body (form-encoded) to srv at uri, signed over the form as
// sign says, and returns the status code and the answer.
func send(t *testing.T, srv *httptest.Server, uri, body string, form url.Values, sign signing) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, srv.URL+uri, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	switch sign {
	case signed:
		req.Header.Set(twilio.SignatureHeader, twilio.Signature(testToken, srv.URL+uri, form))
	case badlySigned:
		req.Header.Set(twilio.SignatureHeader, "0/KCTR6DLpKmkAf8muzZqo1nDgQ=")
	case wrongToken:
		req.Header.Set(twilio.SignatureHeader, twilio.Signature("other", srv.URL+uri, form))
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, string(b)
}

func moForm(mod func(url.Values)) url.Values {
	f := url.Values{
		"MessageSid":  {"SM0123456789abcdef0123456789abcdef"},
		"AccountSid":  {testAccount},
		"From":        {"+12025554321"},
		"To":          {"41444"},
		"Body":        {"GIVE"},
		"NumMedia":    {"0"},
		"NumSegments": {"1"},
	}
	if mod != nil {
		mod(f)
	}
	return f
}

// twilioForm is an inbound message with every field Twilio sends for an SMS
// to a number of a messaging service.
func twilioForm(mod func(url.Values)) url.Values {
	const sid = "SM0123456789abcdef0123456789abcdef"
	f := url.Values{
		"MessageSid":          {sid},
		"SmsSid":              {sid},
		"SmsMessageSid":       {sid},
		"AccountSid":          {testAccount},
		"MessagingServiceSid": {"MG0123456789abcdef0123456789abcdef"},
		"From":                {"+12025554321"},
		"To":                  {"41444"},
		"Body":                {"GIVE"},
		"NumMedia":            {"0"},
		"NumSegments":         {"1"},
		"SmsStatus":           {"received"},
		"ApiVersion":          {"2010-04-01"},
		"FromCity":            {"WASHINGTON"},
		"FromState":           {"DC"},
		"FromZip":             {"20001"},
		"FromCountry":         {"US"},
		"ToCity":              {""},
		"ToState":             {""},
		"ToZip":               {""},
		"ToCountry":           {"US"},
	}
	if mod != nil {
		mod(f)
	}
	return f
}

func TestWebhookSMS(t *testing.T) {
	wantMO := donation.MO{
		Gateway:   "twilio",
		MessageID: "SM0123456789abcdef0123456789abcdef",
		From:      "+12025554321",
		To:        "41444",
		Body:      "GIVE",
		At:        testNow,
	}
	tests := []struct {
		name      string
		uri       string // default SMSPath
		form      url.Values
		raw       string // body sent instead of form.Encode(), signed over form
		sign      signing
		err       error // answered by the MO handler
		status    int
		calls     int
		wantMO    *donation.MO // checked when calls == 1
		wantTwiML bool
	}{
		{name: "OK", form: moForm(nil), status: 200, calls: 1, wantMO: &wantMO, wantTwiML: true},
		{name: "OKWithQuery", uri: twilio.SMSPath + "?shortcode=41444", form: moForm(nil), status: 200, calls: 1, wantMO: &wantMO, wantTwiML: true},
		{name: "OKExtraFields", form: moForm(func(f url.Values) { f.Set("FromCountry", "US"); f.Set("SmsStatus", "received") }), status: 200, calls: 1, wantMO: &wantMO},
		{name: "EmptyBody", form: moForm(func(f url.Values) { f.Set("Body", "") }), status: 200, calls: 1,
			wantMO: &donation.MO{Gateway: "twilio", MessageID: wantMO.MessageID, From: wantMO.From, To: wantMO.To, Body: "", At: testNow}},
		// Twilio always sends Body, empty for a picture alone; without it,
		// or with a name sorting between Body and From, the form may be a
		// captured one re-cut under its signature, its text lost.
		{name: "NoBodyField", form: moForm(func(f url.Values) { f.Del("Body") }), status: 400},
		{name: "BodyEndCutIntoAName", form: moForm(func(f url.Values) { f.Set("Body", ""); f.Set("END", "") }), status: 400},
		{name: "BodyRenamed", form: moForm(func(f url.Values) { f.Del("Body"); f.Set("BodyS", "TART") }), status: 400},
		{name: "InvalidUTF8Cleaned", form: moForm(func(f url.Values) { f.Set("Body", "STOP\x00\xff") }), status: 200, calls: 1,
			wantMO: &donation.MO{Gateway: "twilio", MessageID: wantMO.MessageID, From: wantMO.From, To: wantMO.To, Body: "STOP\uFFFD", At: testNow}},
		{name: "OKTwilioShaped", form: twilioForm(nil), status: 200, calls: 1, wantMO: &wantMO, wantTwiML: true},
		{name: "OKMMS", form: twilioForm(func(f url.Values) {
			sid := "MM0123456789abcdef0123456789abcdef"
			f.Set("MessageSid", sid)
			f.Set("SmsSid", sid)
			f.Set("SmsMessageSid", sid)
			f.Set("NumMedia", "1")
			f.Set("MediaContentType0", "image/jpeg")
			f.Set("MediaUrl0", "https://api.twilio.com/2010-04-01/Accounts/"+testAccount+"/Messages/"+sid+"/Media/ME0123456789abcdef0123456789abcdef")
		}), status: 200, calls: 1},
		{name: "OKLongCode", form: moForm(func(f url.Values) { f.Set("To", "+12025550000") }), status: 200, calls: 1},
		{name: "OKPlusInBody", form: moForm(func(f url.Values) { f.Set("Body", "GIVE +10") }), status: 200, calls: 1},
		{name: "OKPlusBeforeFrom", form: moForm(func(f url.Values) { f.Set("AddOns", `{"status":"successful","results":{"caller":"+12025554321"}}`) }), status: 200, calls: 1},
		{name: "Unsigned", form: moForm(nil), sign: unsigned, status: 403},
		{name: "BadSignature", form: moForm(nil), sign: badlySigned, status: 403},
		{name: "WrongToken", form: moForm(nil), sign: wrongToken, status: 403},
		{name: "MissingAccountSid", form: moForm(func(f url.Values) { f.Del("AccountSid") }), status: 403},
		{name: "WrongAccountSid", form: moForm(func(f url.Values) { f.Set("AccountSid", "AC00000000000000000000000000000000") }), status: 403},
		{name: "EmptyAccountSid", form: moForm(func(f url.Values) { f.Set("AccountSid", "") }), status: 403},
		{name: "SignedOtherBody", form: moForm(nil), raw: moForm(func(f url.Values) { f.Set("Body", "GIVE 100") }).Encode(), status: 403},
		{name: "TooLarge", form: moForm(func(f url.Values) { f.Set("Body", strings.Repeat("x", 65<<10)) }), status: 413},
		{name: "TooLargeUnsigned", form: moForm(func(f url.Values) { f.Set("Body", strings.Repeat("x", 65<<10)) }), sign: unsigned, status: 413},
		{name: "MalformedForm", form: url.Values{}, raw: "MessageSid=%zz&From=%2B12025554321", status: 400},
		{name: "MissingMessageSid", form: moForm(func(f url.Values) { f.Del("MessageSid") }), status: 400},
		{name: "MalformedMessageSid", form: moForm(func(f url.Values) { f.Set("MessageSid", "SM' OR 1=1 --") }), status: 400},
		{name: "ShortMessageSid", form: moForm(func(f url.Values) { f.Set("MessageSid", "SM1") }), status: 400},
		{name: "LongMessageSid", form: moForm(func(f url.Values) { f.Set("MessageSid", "SM0123456789abcdef0123456789abcdef0") }), status: 400},
		{name: "UpperCaseMessageSid", form: moForm(func(f url.Values) { f.Set("MessageSid", "SM0123456789ABCDEF0123456789ABCDEF") }), status: 400},
		{name: "OtherKindOfSid", form: moForm(func(f url.Values) { f.Set("MessageSid", "CA0123456789abcdef0123456789abcdef") }), status: 400},
		{name: "MalformedSmsSid", form: twilioForm(func(f url.Values) { f.Set("SmsSid", "SM1") }), status: 400},
		{name: "OtherSmsSid", form: twilioForm(func(f url.Values) { f.Set("SmsSid", "SMfedcba9876543210fedcba9876543210") }), status: 400},
		{name: "OtherSmsMessageSid", form: twilioForm(func(f url.Values) { f.Set("SmsMessageSid", "SMfedcba9876543210fedcba9876543210") }), status: 400},
		{name: "MalformedMessagingServiceSid", form: twilioForm(func(f url.Values) { f.Set("MessagingServiceSid", "MG1") }), status: 400},
		{name: "MalformedNumMedia", form: twilioForm(func(f url.Values) { f.Set("NumMedia", "none") }), status: 400},
		{name: "MalformedNumSegments", form: twilioForm(func(f url.Values) { f.Set("NumSegments", "1SmsStatus") }), status: 400},
		{name: "MalformedApiVersion", form: twilioForm(func(f url.Values) { f.Set("ApiVersion", "2010-04-01Body") }), status: 400},
		{name: "MalformedSmsStatus", form: twilioForm(func(f url.Values) { f.Set("SmsStatus", "receivedTo") }), status: 400},
		{name: "RepeatedParameter", form: moForm(func(f url.Values) { f["Body"] = []string{"GIVE", "STOP"} }), status: 400},
		{name: "PlusAfterFrom", form: twilioForm(func(f url.Values) { f.Set("ToCity", "+12025550000") }), status: 400},
		{name: "PlusInName", form: moForm(func(f url.Values) { f.Set("A+1", "x") }), status: 400},
		{name: "MissingFrom", form: moForm(func(f url.Values) { f.Del("From") }), status: 400},
		{name: "InvalidFrom", form: moForm(func(f url.Values) { f.Set("From", "2025554321") }), status: 400},
		{name: "InvalidFromLetters", form: moForm(func(f url.Values) { f.Set("From", "+1202555ABCD") }), status: 400},
		{name: "InvalidFromZero", form: moForm(func(f url.Values) { f.Set("From", "+0123456789") }), status: 400},
		{name: "MissingTo", form: moForm(func(f url.Values) { f.Del("To") }), status: 400},
		{name: "InvalidTo", form: moForm(func(f url.Values) { f.Set("To", "short code") }), status: 400},
		{name: "Duplicate", form: moForm(nil), err: fmt.Errorf("handle: %w", donation.ErrDuplicate), status: 200, calls: 1, wantTwiML: true},
		{name: "UnknownShortCode", form: moForm(nil), err: fmt.Errorf("handle: %w", donation.ErrUnknownShortCode), status: 404, calls: 1},
		{name: "BadInput", form: moForm(nil), err: fmt.Errorf("handle: %w", badInput{}), status: 400, calls: 1},
		{name: "NotBadInput", form: moForm(nil), err: fmt.Errorf("handle: %w", notBadInput{}), status: 503, calls: 1},
		{name: "OtherError", form: moForm(nil), err: errors.New("database is down"), status: 503, calls: 1},
		{name: "Canceled", form: moForm(nil), err: context.Canceled, status: 503, calls: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			mos := &donationtest.MOs{Err: tt.err}
			srv := newWebhook(t, mos, &donationtest.Statuses{})
			uri := tt.uri
			if uri == "" {
				uri = twilio.SMSPath
			}
			body := tt.raw
			if body == "" {
				body = tt.form.Encode()
			}
			code, hdr, answer := send(t, srv, uri, body, tt.form, tt.sign)
			if code != tt.status {
				t.Fatalf("status = %d, want %d (answer %q)", code, tt.status, answer)
			}
			got := mos.Got()
			if len(got) != tt.calls {
				t.Fatalf("handler called %d times, want %d", len(got), tt.calls)
			}
			if tt.wantMO != nil && got[0] != *tt.wantMO {
				t.Errorf("MO = %+v\nwant %+v", got[0], *tt.wantMO)
			}
			if tt.wantTwiML {
				if ct := hdr.Get("Content-Type"); ct != "text/xml" {
					t.Errorf("Content-Type = %q, want text/xml", ct)
				}
				if answer != twilio.EmptyTwiML {
					t.Errorf("answer = %q, want %q", answer, twilio.EmptyTwiML)
				}
			}
		})
	}
}

func TestWebhookStatus(t *testing.T) {
	form := func(mod func(url.Values)) url.Values {
		f := url.Values{
			"MessageSid":    {"SMfedcba9876543210fedcba9876543210"},
			"SmsSid":        {"SMfedcba9876543210fedcba9876543210"},
			"MessageStatus": {"delivered"},
			"SmsStatus":     {"delivered"},
			"AccountSid":    {testAccount},
			"To":            {"+12025554321"},
			"From":          {"41444"},
			"ApiVersion":    {"2010-04-01"},
		}
		if mod != nil {
			mod(f)
		}
		return f
	}
	tests := []struct {
		name   string
		form   url.Values
		raw    string
		sign   signing
		err    error
		status int
		want   []status
	}{
		{name: "Delivered", form: form(nil), status: 200,
			want: []status{{"SMfedcba9876543210fedcba9876543210", "delivered", "", testNow}}},
		{name: "Undelivered", form: form(func(f url.Values) { f.Set("MessageStatus", "undelivered"); f.Set("ErrorCode", "30003") }), status: 200,
			want: []status{{"SMfedcba9876543210fedcba9876543210", "undelivered", "30003", testNow}}},
		{name: "EmptyErrorCode", form: form(func(f url.Values) { f.Set("ErrorCode", "") }), status: 200,
			want: []status{{"SMfedcba9876543210fedcba9876543210", "delivered", "", testNow}}},
		{name: "PartiallyDelivered", form: form(func(f url.Values) { f.Set("MessageStatus", "partially_delivered") }), status: 200,
			want: []status{{"SMfedcba9876543210fedcba9876543210", donation.DeliverySent, "", testNow}}},
		{name: "UnknownStatus", form: form(func(f url.Values) { f.Set("MessageStatus", "teleported") }), status: 200,
			want: []status{{"SMfedcba9876543210fedcba9876543210", donation.DeliveryUnknown, "", testNow}}},
		{name: "Unsigned", form: form(nil), sign: unsigned, status: 403},
		{name: "BadSignature", form: form(nil), sign: badlySigned, status: 403},
		{name: "TooLarge", form: form(func(f url.Values) { f.Set("Pad", strings.Repeat("x", 70<<10)) }), status: 413},
		{name: "MalformedForm", form: url.Values{}, raw: "MessageSid=%zz", status: 400},
		{name: "MissingAccountSid", form: form(func(f url.Values) { f.Del("AccountSid") }), status: 403},
		{name: "WrongAccountSid", form: form(func(f url.Values) { f.Set("AccountSid", "AC00000000000000000000000000000000") }), status: 403},
		{name: "MissingMessageSid", form: form(func(f url.Values) { f.Del("MessageSid") }), status: 400},
		{name: "ShortMessageSid", form: form(func(f url.Values) { f.Set("MessageSid", "SM1"); f.Set("SmsSid", "SM1") }), status: 400},
		{name: "MessageSidWithStatus", form: form(func(f url.Values) {
			f.Set("MessageSid", "SMfedcba9876543210fedcba9876543210MessageStatusdelivered")
			f.Del("MessageStatus")
		}), status: 400},
		{name: "OtherSmsSid", form: form(func(f url.Values) { f.Set("SmsSid", "SM0123456789abcdef0123456789abcdef") }), status: 400},
		{name: "MalformedTo", form: form(func(f url.Values) { f.Set("To", "+12025554321ToCity") }), status: 400},
		{name: "MalformedApiVersion", form: form(func(f url.Values) { f.Set("ApiVersion", "2010") }), status: 400},
		{name: "RepeatedParameter", form: form(func(f url.Values) { f["MessageStatus"] = []string{"delivered", "failed"} }), status: 400},
		{name: "MissingMessageStatus", form: form(func(f url.Values) { f.Del("MessageStatus") }), status: 400},
		{name: "MalformedMessageStatus", form: form(func(f url.Values) { f.Set("MessageStatus", "<script>") }), status: 400},
		{name: "MalformedErrorCode", form: form(func(f url.Values) { f.Set("ErrorCode", "30003; DROP") }), status: 400},
		{name: "StoreFails", form: form(nil), err: errors.New("database is down"), status: 503,
			want: []status{{"SMfedcba9876543210fedcba9876543210", "delivered", "", testNow}}},
		{name: "StoreBadInput", form: form(nil), err: badInput{}, status: 400,
			want: []status{{"SMfedcba9876543210fedcba9876543210", "delivered", "", testNow}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			sts := &donationtest.Statuses{Err: tt.err}
			mos := &donationtest.MOs{}
			srv := newWebhook(t, mos, sts)
			body := tt.raw
			if body == "" {
				body = tt.form.Encode()
			}
			code, _, answer := send(t, srv, twilio.StatusPath, body, tt.form, tt.sign)
			if code != tt.status {
				t.Fatalf("status = %d, want %d (answer %q)", code, tt.status, answer)
			}
			if code == 200 && answer != twilio.EmptyTwiML {
				t.Errorf("answer = %q, want empty TwiML", answer)
			}
			got := sts.Got()
			if len(got) != len(tt.want) {
				t.Fatalf("recorded %v, want %v", got, tt.want)
			}
			for i := range got {
				if status(got[i]) != tt.want[i] {
					t.Errorf("recorded %+v, want %+v", got[i], tt.want[i])
				}
			}
			if n := len(mos.Got()); n != 0 {
				t.Errorf("MO handler called %d times", n)
			}
		})
	}
}

func TestWebhookMethodNotAllowed(t *testing.T) {
	mos := &donationtest.MOs{}
	srv := newWebhook(t, mos, &donationtest.Statuses{})
	resp, err := srv.Client().Get(srv.URL + twilio.SMSPath)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET: status = %d, want 405", resp.StatusCode)
	}
	if len(mos.Got()) != 0 {
		t.Error("GET reached the MO handler")
	}
}

// A webhook behind a proxy checks signatures over its public URL, not the
// address it listens on.
func TestWebhookPublicURL(t *testing.T) {
	const public = "https://sms.example.org/prefix"
	mos := &donationtest.MOs{}
	w := &twilio.Webhook{AuthToken: testToken, AccountSID: testAccount, PublicURL: public + "/", MOs: mos, Statuses: &donationtest.Statuses{},
		Log: slog.New(slog.DiscardHandler)}
	r := httpserver.New(nil, nil, nil, "")
	w.Register(r)
	srv := httptest.NewServer(r.Handler())
	defer srv.Close()

	form := moForm(nil)
	for _, tc := range []struct {
		signedURL string
		status    int
	}{
		{public + twilio.SMSPath, 200},
		{srv.URL + twilio.SMSPath, 403},
	} {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+twilio.SMSPath, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set(twilio.SignatureHeader, twilio.Signature(testToken, tc.signedURL, form))
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.status {
			t.Errorf("signed over %s: status = %d, want %d", tc.signedURL, resp.StatusCode, tc.status)
		}
	}
	if n := len(mos.Got()); n != 1 {
		t.Errorf("handler called %d times, want 1", n)
	}
}

// Without an auth token the webhook refuses everything, even requests
// signed with the empty key.
func TestWebhookNoToken(t *testing.T) {
	mos := &donationtest.MOs{}
	w := &twilio.Webhook{AccountSID: testAccount, MOs: mos, Statuses: &donationtest.Statuses{}, Log: slog.New(slog.DiscardHandler)}
	r := httpserver.New(nil, nil, nil, "")
	w.Register(r)
	srv := httptest.NewServer(r.Handler())
	defer srv.Close()
	w.PublicURL = srv.URL

	form := moForm(nil)
	req, _ := http.NewRequest(http.MethodPost, srv.URL+twilio.SMSPath, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set(twilio.SignatureHeader, twilio.Signature("", srv.URL+twilio.SMSPath, form))
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("status = %d, want 403", resp.StatusCode)
	}
	if len(mos.Got()) != 0 {
		t.Error("MO handed on")
	}
}

// Failures are logged with the phone number masked (SPEC §11).
func TestWebhookLogMasksPhone(t *testing.T) {
	var logs strings.Builder
	mos := &donationtest.MOs{Err: errors.New("database is down")}
	w := &twilio.Webhook{AuthToken: testToken, AccountSID: testAccount, MOs: mos, Statuses: &donationtest.Statuses{},
		Log: slog.New(slog.NewTextHandler(&logs, nil))}
	r := httpserver.New(nil, nil, nil, "")
	w.Register(r)
	srv := httptest.NewServer(r.Handler())
	defer srv.Close()
	w.PublicURL = srv.URL

	form := moForm(nil)
	if code, _, _ := send(t, srv, twilio.SMSPath, form.Encode(), form, signed); code != 503 {
		t.Fatalf("status = %d, want 503", code)
	}
	out := logs.String()
	if strings.Contains(out, "+12025554321") {
		t.Errorf("log shows the phone number: %s", out)
	}
	if !strings.Contains(out, "+1******4321") || !strings.Contains(out, "database is down") {
		t.Errorf("log lacks the masked number or the error: %s", out)
	}
}

// TestWebhookLogMasksInvalidPhone: an invalid From, refused by the domain,
// is logged masked, in the error as in the field beside it.
func TestWebhookLogMasksInvalidPhone(t *testing.T) {
	var logs strings.Builder
	w := &twilio.Webhook{AuthToken: testToken, AccountSID: testAccount, MOs: &donation.Service{}, Statuses: &donationtest.Statuses{},
		Log: slog.New(slog.NewTextHandler(&logs, nil))}
	r := httpserver.New(nil, nil, nil, "")
	w.Register(r)
	srv := httptest.NewServer(r.Handler())
	defer srv.Close()
	w.PublicURL = srv.URL

	form := moForm(func(f url.Values) { f.Set("From", "+12215550174") }) // no such area code
	code, _, body := send(t, srv, twilio.SMSPath, form.Encode(), form, signed)
	if code != 400 {
		t.Fatalf("status = %d, want 400", code)
	}
	out := logs.String()
	if strings.Contains(out, "2215550174") || strings.Contains(body, "2215550174") {
		t.Errorf("the log or the answer shows the phone number: %s%s", out, body)
	}
	if !strings.Contains(out, "+1******0174") || !strings.Contains(out, "not a valid number") {
		t.Errorf("log lacks the masked number or the reason: %s", out)
	}
}

// A captured request re-split under its signature: Twilio's signature joins
// names and values without separators, so moving a boundary keeps it valid.
// None may be taken for a message, let alone a new one (issue 6).
func TestWebhookReSplit(t *testing.T) {
	const (
		sid      = "SM0123456789abcdef0123456789abcdef"
		fakeSID  = "SM99999999999999999999999999999999"
		attacker = "+12025550199"
		victim   = "+12025554321"
	)
	// carved is an attacker's own message whose Body holds a forged
	// message from the victim.
	carved := moForm(func(f url.Values) {
		f.Set("From", attacker)
		f.Set("Body", "START"+"From"+victim+"MessageSid"+fakeSID+"To41444"+"Zz")
	})
	// tail is what follows the attacker's Body: the real From on.
	tail := "From" + attacker + "MessageSid" + sid + "NumMedia0NumSegments1To41444"
	forged := func(absorber, value string) url.Values {
		return url.Values{"AccountSid": {testAccount}, "Body": {"START"}, "From": {victim},
			"MessageSid": {fakeSID}, "To": {"41444"}, absorber: {value}}
	}

	tests := []struct {
		name            string
		genuine, resent url.Values
		status          int
	}{
		{name: "MessageSidTakesNumMedia", genuine: moForm(nil),
			resent: moForm(func(f url.Values) { f.Set("MessageSid", sid+"NumMedia0"); f.Del("NumMedia") }),
			status: 400},
		{name: "MessageSidTakesMessagingServiceSid", genuine: twilioForm(nil),
			resent: twilioForm(func(f url.Values) {
				f.Set("MessageSid", sid+"MessagingServiceSid"+f.Get("MessagingServiceSid"))
				f.Del("MessagingServiceSid")
			}),
			status: 400},
		{name: "SmsSidTakesSmsStatus", genuine: twilioForm(nil),
			resent: twilioForm(func(f url.Values) { f.Set("SmsSid", sid+"SmsStatusreceived"); f.Del("SmsStatus") }),
			status: 400},
		{name: "AccountSidTakesApiVersion", genuine: twilioForm(nil),
			resent: twilioForm(func(f url.Values) { f.Set("AccountSid", testAccount+"ApiVersion2010-04-01"); f.Del("ApiVersion") }),
			status: 403},
		{name: "BodyTakesFrom", genuine: moForm(nil),
			resent: moForm(func(f url.Values) { f.Set("Body", "GIVEFrom+12025554321"); f.Del("From") }),
			status: 400},
		{name: "ForgedFromBody", genuine: carved, resent: forged("Zz", tail), status: 400},
		{name: "ForgedFromBodyNameEndsInFrom", genuine: carved, resent: forged("ZzFrom", tail[len("From"):]), status: 400},
		{name: "ForgedFromBodyNameHoldsPlus", genuine: carved,
			resent: forged("ZzFrom"+attacker, tail[len("From"+attacker):]), status: 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			mos := &donationtest.MOs{}
			srv := newWebhook(t, mos, &donationtest.Statuses{})
			target := srv.URL + twilio.SMSPath
			sig := twilio.Signature(testToken, target, tt.genuine)
			if twilio.Signature(testToken, target, tt.resent) != sig {
				t.Fatal("the re-split form does not carry the genuine signature")
			}
			req, err := http.NewRequest(http.MethodPost, target, strings.NewReader(tt.resent.Encode()))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set(twilio.SignatureHeader, sig)
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			answer, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.status {
				t.Errorf("status = %d, want %d (answer %q)", resp.StatusCode, tt.status, answer)
			}
			if got := mos.Got(); len(got) != 0 {
				t.Errorf("handed on %+v", got)
			}
		})
	}
}
