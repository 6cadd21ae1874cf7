package twilio_test

import (
	"context"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shortcode/shortcode/carrier/twilio"
	"github.com/shortcode/shortcode/donation"
	"github.com/shortcode/shortcode/donation/httpserver"
)

// The webhook's fuzz targets call its handler in process: the form, the
// signature and the answer are what they test, not the network.

const fuzzBase = "https://sms.example.org"

// fuzzSink records what the webhook hands over, and accepts all of it.
type fuzzSink struct {
	mos      []donation.MO
	statuses []status
}

// reset forgets what was handed over: each target builds its handler once
// (a server and its routes cost more than the rest of an execution) and
// resets its sink for each input.
func (s *fuzzSink) reset() { s.mos, s.statuses = nil, nil }

func (s *fuzzSink) HandleMO(_ context.Context, mo donation.MO) error {
	s.mos = append(s.mos, mo)
	return nil
}

func (s *fuzzSink) RecordStatus(_ context.Context, sid string, st donation.DeliveryStatus, code string, now time.Time) error {
	s.statuses = append(s.statuses, status{sid, st, code, now})
	return nil
}

func fuzzWebhook() (http.Handler, *fuzzSink) {
	sink := &fuzzSink{}
	w := &twilio.Webhook{AuthToken: testToken, AccountSID: testAccount, PublicURL: fuzzBase, MOs: sink, Statuses: sink,
		Now: func() time.Time { return testNow }, Log: slog.New(slog.DiscardHandler)}
	s := httpserver.New(slog.New(slog.DiscardHandler), nil, nil, "")
	w.Register(s)
	return s.Handler(), sink
}

// fuzzPost posts body to path with signature sig and returns the status.
func fuzzPost(t *testing.T, h http.Handler, path, body, sig string) int {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set(twilio.SignatureHeader, sig)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code >= 500 {
		t.Fatalf("POST %s %q: %d %s", path, body, rec.Code, rec.Body)
	}
	return rec.Code
}

// fuzzForm is an inbound message's form with the fuzzer's values. An
// empty extra name adds no parameter; "-" before a name removes it.
func fuzzForm(sid, from, to, body, extraName, extraValue string) url.Values {
	f := twilioForm(func(f url.Values) {
		f.Set("MessageSid", sid)
		f.Set("SmsSid", sid)
		f.Set("SmsMessageSid", sid)
		f.Set("From", from)
		f.Set("To", to)
		f.Set("Body", body)
	})
	if name, ok := strings.CutPrefix(extraName, "-"); ok {
		f.Del(name)
	} else if extraName != "" {
		f.Add(extraName, extraValue)
	}
	return f
}

// fuzzShapes restates SPEC §12.1's shapes of the parameters that name or
// count something.
var fuzzShapes = map[string]*regexp.Regexp{
	"MessageSid": regexp.MustCompile(`^(SM|MM)[0-9a-f]{32}$`), "MessagingServiceSid": regexp.MustCompile(`^MG[0-9a-f]{32}$`),
	"From": regexp.MustCompile(`^\+?[0-9]{3,15}$`), "To": regexp.MustCompile(`^\+?[0-9]{3,15}$`),
	"NumMedia": regexp.MustCompile(`^[0-9]{1,3}$`), "NumSegments": regexp.MustCompile(`^[0-9]{1,3}$`),
	"ReferralNumMedia": regexp.MustCompile(`^[0-9]{1,3}$`), "ApiVersion": regexp.MustCompile(`^[0-9]{4}-[0-9]{2}-[0-9]{2}$`),
	"SmsStatus": regexp.MustCompile(`^[a-z][a-z_-]{0,31}$`), "MessageStatus": regexp.MustCompile(`^[a-z][a-z_-]{0,31}$`),
	"ErrorCode": regexp.MustCompile(`^[0-9]{0,10}$`),
}

// fuzzE164 is an E.164 number, as an MO's From must be.
var fuzzE164 = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)

// fuzzValid says whether the webhook must take a correctly signed form
// posted to path: this account's AccountSid, every name once and without a
// '+', every shaped parameter of its shape, SmsSid and SmsMessageSid equal
// to MessageSid; for a message a MessageSid, an E.164 From, a To, a Body,
// no parameter sorting between Body and From, and no '+' in a parameter
// after From but To; for a status a MessageSid and a MessageStatus.
func fuzzValid(path string, f url.Values) bool {
	if a := f["AccountSid"]; len(a) != 1 || a[0] != testAccount {
		return false
	}
	for name, vs := range f {
		if len(vs) != 1 || strings.Contains(name, "+") {
			return false
		}
		if re, ok := fuzzShapes[name]; ok && !re.MatchString(vs[0]) {
			return false
		}
		if (name == "SmsSid" || name == "SmsMessageSid") && vs[0] != f.Get("MessageSid") {
			return false
		}
	}
	if path == twilio.StatusPath {
		return f.Get("MessageSid") != "" && f.Get("MessageStatus") != ""
	}
	if f["Body"] == nil {
		return false
	}
	for name, vs := range f {
		if name > "From" && name != "To" && strings.Contains(vs[0], "+") {
			return false
		}
		if name > "Body" && name < "From" {
			return false // where Twilio sends no parameter, and a re-split would put one
		}
	}
	return f.Get("MessageSid") != "" && fuzzE164.MatchString(f.Get("From")) && f.Get("To") != ""
}

// fuzzMOOf is the MO the webhook must hand over for a valid form.
func fuzzMOOf(f url.Values) donation.MO {
	body := strings.ReplaceAll(strings.ToValidUTF8(f.Get("Body"), "\uFFFD"), "\x00", "")
	return donation.MO{Gateway: twilio.Gateway, MessageID: f.Get("MessageSid"), From: f.Get("From"), To: f.Get("To"), Body: body, At: testNow}
}

var fuzzSeeds = []struct{ sid, from, to, body, name, value string }{
	{"SM0123456789abcdef0123456789abcdef", "+12025554321", "41444", "GIVE", "", ""},
	{"MM0123456789abcdef0123456789abcdef", "+12025554321", "+12025550000", "stop", "FromCity", "WASHINGTON"},
	{"SM0123456789abcdef0123456789abcdeF", "+12025554321", "41444", "GIVE", "", ""},
	{"SM0123456789abcdef0123456789abcdef", "12025554321", "41444", "x", "-To", ""},
	{"SM0123456789abcdef0123456789abcdef", "+12025554321", "41444", "START" + "From+12125550100MessageSidSM0000000000000000000000000000000aTo41444Zz", "", ""},
	{"SM0123456789abcdef0123456789abcdef", "+12025554321", "41444", "a+b", "Zz", "+1"},
	{"SM0123456789abcdef0123456789abcdef", "+12025554321", "41444", "\xff\x00", "AccountSid", testAccount},
	{"SM0123456789abcdef0123456789abcdef", "+12025554321", "41444", "hi", "-AccountSid", ""},
	{"SM0123456789abcdef0123456789abcdef", "+12025554321", "41444", "hi", "NumMedia", "0"},
	{"SM0123456789abcdef0123456789abcdef", "+12025554321", "41444", "hi", "Na+me", "x"},
	{"SM0123456789abcdef0123456789abcdef", "+12025554321", "41444", "hi", "MessageStatus", "delivered"},
	{"SM0123456789abcdef0123456789abcdef", "+12025554321", "41444", "hi", "ErrorCode", "30003"},
}

// FuzzWebhookForm: for any form, a request signed correctly is accepted
// (200, handed over once, as sent) iff it has the shape SPEC §12.1 asks;
// otherwise it is refused with 400 or 403 and handed to nobody; never a
// 5xx. The same form unsigned, or signed with another token, is 403.
func FuzzWebhookForm(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s.sid, s.from, s.to, s.body, s.name, s.value, false)
		f.Add(s.sid, s.from, s.to, s.body, s.name, s.value, true)
	}
	h, sink := fuzzWebhook()
	f.Fuzz(func(t *testing.T, sid, from, to, body, extraName, extraValue string, statusCallback bool) {
		sink.reset()
		form := fuzzForm(sid, from, to, body, extraName, extraValue)
		path := twilio.SMSPath
		if statusCallback {
			path = twilio.StatusPath
			form.Del("Body")
			form.Set("MessageStatus", body)
		}
		enc := form.Encode()
		for _, sig := range []string{"", twilio.Signature("other", fuzzBase+path, form)} {
			if code := fuzzPost(t, h, path, enc, sig); code != http.StatusForbidden {
				t.Fatalf("%q signed %q: %d, want 403", enc, sig, code)
			}
		}
		code := fuzzPost(t, h, path, enc, twilio.Signature(testToken, fuzzBase+path, form))
		valid := fuzzValid(path, form)
		switch {
		case valid && code != http.StatusOK:
			t.Fatalf("%s %q: %d, want 200", path, enc, code)
		case !valid && code != http.StatusBadRequest && code != http.StatusForbidden:
			t.Fatalf("%s %q: %d, want 400 or 403", path, enc, code)
		case !valid && len(sink.mos)+len(sink.statuses) > 0:
			t.Fatalf("%s %q refused but handed over: %+v %+v", path, enc, sink.mos, sink.statuses)
		case valid && path == twilio.SMSPath && (len(sink.mos) != 1 || sink.mos[0] != fuzzMOOf(form)):
			t.Fatalf("%q handed over %+v, want %+v", enc, sink.mos, fuzzMOOf(form))
		case valid && path == twilio.StatusPath && (len(sink.statuses) != 1 || sink.statuses[0].SID != form.Get("MessageSid") ||
			sink.statuses[0].Status != twilio.DeliveryStatus(form.Get("MessageStatus")) || sink.statuses[0].ErrorCode != form.Get("ErrorCode")):
			t.Fatalf("%q recorded %+v", enc, sink.statuses)
		}
	})
}

// FuzzWebhookTamper: a single byte changed anywhere in a signed body is
// refused (400 or 403) unless the form it parses to is the one signed,
// and then it is the same message. Whatever the change, the webhook never
// hands over a message other than the one signed.
func FuzzWebhookTamper(f *testing.F) {
	for i, s := range fuzzSeeds {
		f.Add(s.sid, s.from, s.to, s.body, uint16(i*37), byte('+'))
		f.Add(s.sid, s.from, s.to, s.body, uint16(i*11), byte('&'))
		f.Add(s.sid, s.from, s.to, s.body, uint16(i), byte('='))
	}
	h, sink := fuzzWebhook()
	f.Fuzz(func(t *testing.T, sid, from, to, body string, pos uint16, b byte) {
		sink.reset()
		form := fuzzForm(sid, from, to, body, "", "")
		signed := form.Encode()
		sig := twilio.Signature(testToken, fuzzBase+twilio.SMSPath, form)
		i := int(pos) % len(signed)
		if signed[i] == b {
			return
		}
		tampered := signed[:i] + string(b) + signed[i+1:]
		code := fuzzPost(t, h, twilio.SMSPath, tampered, sig)
		parsed, err := url.ParseQuery(tampered)
		same := err == nil && maps.EqualFunc(parsed, form, slices.Equal)
		switch {
		case same && code != fuzzPost(t, h, twilio.SMSPath, signed, sig):
			t.Fatalf("%q parses as the signed form %q but is answered %d", tampered, signed, code)
		case !same && code == http.StatusOK && (len(sink.mos) != 1 || sink.mos[0] != fuzzMOOf(form)):
			t.Fatalf("%q (signed %q) accepted as %+v", tampered, signed, sink.mos)
		case !same && code != http.StatusOK && code != http.StatusBadRequest && code != http.StatusForbidden:
			t.Fatalf("%q: %d", tampered, code)
		case !same && code != http.StatusOK && len(sink.mos) > 0:
			t.Fatalf("%q refused but handed over %+v", tampered, sink.mos)
		}
	})
}

// FuzzWebhookResplit: the signature joins names and values without
// separators, so the bytes it covers can be cut into other parameters
// under the same signature. Any such re-split of a signed message is
// refused, or hands over exactly the message that was signed (the cut
// moved only within parameters nobody reads); never a new one.
//
// cuts moves the boundaries between names and values: each of the first
// bytes shifts one (int8), 0x80 drops it; two bytes more each add one.
func FuzzWebhookResplit(f *testing.F) {
	for i, s := range fuzzSeeds {
		f.Add(s.sid, s.from, s.to, s.body, []byte{byte(i), 0, 0, 0, 4, 0xfc})
	}
	f.Add("SM0123456789abcdef0123456789abcdef", "+12025554321", "41444", "START", []byte{})
	h, sink := fuzzWebhook()
	f.Fuzz(func(t *testing.T, sid, from, to, body string, cuts []byte) {
		sink.reset()
		form := fuzzForm(sid, from, to, body, "", "")
		sig := twilio.Signature(testToken, fuzzBase+twilio.SMSPath, form)
		names := slices.Sorted(maps.Keys(form))
		var joined strings.Builder
		var bounds []int // inner boundaries of joined: name|value|name|...
		for i, n := range names {
			if i > 0 {
				bounds = append(bounds, joined.Len())
			}
			joined.WriteString(n)
			bounds = append(bounds, joined.Len())
			joined.WriteString(form[n][0])
		}
		s := joined.String()
		var moved []int
		for i, b := range bounds {
			switch {
			case i >= len(cuts):
				moved = append(moved, b)
			case cuts[i] != 0x80:
				moved = append(moved, min(max(b+int(int8(cuts[i])), 0), len(s)))
			}
		}
		for i := len(bounds); i+1 < len(cuts); i += 2 {
			moved = append(moved, (int(cuts[i])<<8|int(cuts[i+1]))%(len(s)+1))
		}
		slices.Sort(moved) // equal boundaries are empty names or values
		if len(moved)%2 == 0 {
			moved = moved[:len(moved)-1]
		}
		edges := append(append([]int{0}, moved...), len(s))
		resplit := url.Values{}
		prev := ""
		for i := 0; i+2 < len(edges); i += 2 {
			name, value := s[edges[i]:edges[i+1]], s[edges[i+1]:edges[i+2]]
			if i > 0 && name <= prev {
				return // not sorted: the signature would differ
			}
			prev = name
			resplit[name] = []string{value}
		}
		if maps.EqualFunc(resplit, form, slices.Equal) {
			return
		}
		if twilio.Signature(testToken, fuzzBase+twilio.SMSPath, resplit) != sig {
			t.Fatalf("the re-split %v of %v lost the signature", resplit, form)
		}
		code := fuzzPost(t, h, twilio.SMSPath, resplit.Encode(), sig)
		switch {
		case code == http.StatusOK && (len(sink.mos) != 1 || sink.mos[0] != fuzzMOOf(form)):
			t.Fatalf("the re-split %v of %v was taken as %+v", resplit, form, sink.mos)
		case code != http.StatusOK && len(sink.mos) > 0:
			t.Fatalf("the re-split %v refused but handed over %+v", resplit, sink.mos)
		}
	})
}
