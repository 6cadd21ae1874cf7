package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shortcode/shortcode/carrier/twilio"
	"github.com/shortcode/shortcode/donation"
	"github.com/shortcode/shortcode/storage/storagetest"
)

// startMain runs `shortcode serve` in-process on loopback ports with the
// embedded simulator, on a fresh database of the driver.
func startMain(t *testing.T, driver string) *Main {
	t.Helper()
	return startMainWith(t, driver, nil)
}

// startMainWith is startMain with settings changed by edit before the start.
func startMainWith(t *testing.T, driver string, edit func(*Main)) *Main {
	t.Helper()
	m := NewMain()
	m.LogKey = testLogKey
	m.DB = storagetest.DSN(t, driver)
	m.Addr, m.SimAddr = "127.0.0.1:0", "127.0.0.1:0"
	m.TwilioAuthToken = "test-token"
	m.Log = slog.New(slog.DiscardHandler)
	m.RateLimit = 1000    // the load tests text faster than any donor
	m.LogKey = testLogKey // required on PostgreSQL
	if edit != nil {
		edit(m)
	}
	if err := m.Start(context.Background()); err != nil {
		t.Fatalf("start: %v", err)
	}
	t.Cleanup(func() {
		if err := m.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return m
}

// screen is the terminal of `shortcode text`: what it printed, with a way to
// wait for a line.
type screen struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (s *screen) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Write(p)
}

func (s *screen) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}

func (s *screen) waitFor(t *testing.T, re *regexp.Regexp) []string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if m := re.FindStringSubmatch(s.String()); m != nil {
			return m
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no %v on screen:\n%s", re, s.String())
	return nil
}

// TestTextDonation is the walking skeleton's acceptance test: with serve
// running, `shortcode text` completes a $10 donation, on both stores.
func TestTextDonation(t *testing.T) {
	for _, driver := range storagetest.Drivers {
		t.Run(driver, func(t *testing.T) {
			m := startMain(t, driver)
			keys, typed := io.Pipe()
			out := &screen{}
			done := make(chan error, 1)
			go func() {
				done <- run(context.Background(), []string{"text", "--from", "+12125550100", "--sim", m.SimURL, "--idle", "300ms"}, keys, out, io.Discard)
			}()
			say := func(line string) { fmt.Fprintln(typed, line) }

			say("GIVE")
			out.waitFor(t, regexp.MustCompile(`(?m)^< Demo PAC: thanks! Reply 5, 10, 15 or 20`))
			say("10")
			out.waitFor(t, regexp.MustCompile(`(?m)^< Reply YES to give \$10 to Demo PAC on your phone bill & certify 18\+`))
			say("YES")
			pin := out.waitFor(t, regexp.MustCompile(`(?m)^< Your PIN is ([0-9]{6})\. .*/d/[A-Za-z0-9_-]{22}, to finish your \$10 gift`))[1]
			say(pin)
			out.waitFor(t, regexp.MustCompile(`(?m)^< Thank you! \$10 to Demo PAC will appear on your mobile bill`))
			typed.Close()
			if err := <-done; err != nil {
				t.Fatalf("text: %v", err)
			}
			lines := strings.Split(strings.TrimSpace(out.String()), "\n")
			if len(lines) != 4 {
				t.Errorf("printed %d lines, want 4:\n%s", len(lines), out.String())
			}
			// The confirmation with the certification is one GSM-7 segment.
			if conf := lines[1]; len(strings.TrimPrefix(conf, "< ")) > 160 {
				t.Errorf("confirmation is %d characters", len(conf)-2)
			}
			ledger := m.Sim.Ledger()
			if len(ledger) != 1 || ledger[0].Amount != 1000 || ledger[0].Phone != "+12125550100" {
				t.Errorf("carrier ledger = %+v, want one $10 charge", ledger)
			}
			ds, err := m.Store.Donations(context.Background(), "+12125550100")
			if err != nil || len(ds) != 1 || ds[0].Status != donation.Completed || ds[0].ServerRef != ledger[0].ServerRef {
				t.Errorf("donations = %+v (%v), want one completed with the carrier's reference", ds, err)
			}
		})
	}
}

// post sends a form to the webhook, signed with token (none when empty).
func post(t *testing.T, m *Main, path, token string, form url.Values, body string) int {
	t.Helper()
	if body == "" {
		body = form.Encode()
	}
	req, _ := http.NewRequest(http.MethodPost, m.URL+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if token != "" {
		req.Header.Set("X-Twilio-Signature", twilio.Signature(token, m.PublicURL+path, form))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestWebhookBadInput: bad input gets a 4xx, never a 500, and changes nothing.
func TestWebhookBadInput(t *testing.T) {
	m := startMain(t, "sqlite")
	mo := func(sid, from, to, body string) url.Values {
		return url.Values{"MessageSid": {sid}, "AccountSid": {defaultAccountSID}, "From": {from}, "To": {to}, "Body": {body}}
	}
	sid := func(n int) string { return fmt.Sprintf("SM%032x", n) }
	cases := []struct {
		name  string
		token string
		form  url.Values
		raw   string
		want  int
	}{
		{"unsigned", "", mo(sid(1), "+12125550100", "62262", "GIVE"), "", 403},
		{"badly signed", "wrong-token", mo(sid(2), "+12125550100", "62262", "GIVE"), "", 403},
		{"malformed form", "test-token", url.Values{}, "MessageSid=%zz&From=%", 400},
		{"body over 64 KiB", "test-token", mo(sid(3), "+12125550100", "62262", strings.Repeat("x", 70<<10)), "", 413},
		{"unknown short code", "test-token", mo(sid(4), "+12125550100", "99999", "GIVE"), "", 404},
		{"invalid number", "test-token", mo(sid(5), "+15555550100", "62262", "GIVE"), "", 400},
		{"not a number", "test-token", mo(sid(6), "DROP TABLE", "62262", "GIVE"), "", 400},
		{"no message id", "test-token", mo("", "+12125550100", "62262", "GIVE"), "", 400},
		{"message id not Twilio's", "test-token", mo("SM7", "+12125550100", "62262", "GIVE"), "", 400},
		{"other account", "test-token", func() url.Values {
			f := mo(sid(8), "+12125550100", "62262", "GIVE")
			f.Set("AccountSid", "AC0123456789abcdef0123456789abcdef")
			return f
		}(), "", 403},
	}
	for _, c := range cases {
		if got := post(t, m, twilio.SMSPath, c.token, c.form, c.raw); got != c.want {
			t.Errorf("%s: status %d, want %d", c.name, got, c.want)
		}
	}
	if n, err := m.Store.MOCount(context.Background()); err != nil || n != 0 {
		t.Errorf("bad requests stored %d MOs (%v)", n, err)
	}

	// Non-GSM text and an empty body are a donor's words: 200 and a polite text.
	for i, body := range []string{"GIVE", "🙂 ünïcödé ☃", ""} {
		if got := post(t, m, twilio.SMSPath, "test-token", mo(sid(100+i), "+12125550100", "62262", body), ""); got != 200 {
			t.Errorf("body %q: status %d, want 200", body, got)
		}
	}
	mts, err := m.Store.MTs(context.Background(), "+12125550100")
	if err != nil || len(mts) != 3 || !strings.Contains(mts[2].MT.Body, "Reply 5, 10, 15 or 20") {
		t.Errorf("MTs = %+v (%v), want the amount prompt re-sent each time", mts, err)
	}
}
