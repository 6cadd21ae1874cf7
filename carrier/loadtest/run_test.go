package loadtest_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/shortcode/shortcode/carrier/loadtest"
	"github.com/shortcode/shortcode/carrier/twilio"
	"github.com/shortcode/shortcode/compliance"
	"github.com/shortcode/shortcode/donation"
)

// TestRunKeepsUnansweredPINs: a PIN text whose post got no good answer may
// still have been taken (serve committed it, then its answer was lost), so
// its donation may be completed: the conversation keeps the text's sid for
// the check, as it does for a PIN cut off by the end of the run. (Found by
// .ci/perf: a completed donation "whose PIN did not come in the number's
// PIN text" after webhook timeouts.)
func TestRunKeepsUnansweredPINs(t *testing.T) {
	demo := compliance.DemoProgram("https://give.example.org")
	render := func(tmpl, url, pin string) string {
		v := compliance.ProgramVars(demo)
		v.Amount, v.URL, v.PIN = "10", url, pin
		return compliance.Render(tmpl, v)
	}
	g, gsrv := newGateway(t, nil)
	mts := &twilio.Client{BaseURL: gsrv.URL, AccountSID: account, AuthToken: token}

	// A webhook that answers the keyword and the YES with their replies,
	// and takes each PIN without a good answer.
	var (
		mu   sync.Mutex
		pins = map[string]bool{}
	)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		from, body := r.PostForm.Get("From"), r.PostForm.Get("Body")
		reply := ""
		switch body {
		case "GIVE 10":
			reply = render(demo.Templates.Confirm, demo.TermsURL, "")
		case "YES":
			reply = render(demo.Templates.PIN, demo.DonationURL+"tok", "042917")
		default:
			mu.Lock()
			pins[r.PostForm.Get("MessageSid")] = body == "042917"
			mu.Unlock()
			http.Error(w, "taken, but the answer is lost", http.StatusServiceUnavailable)
			return
		}
		if _, err := mts.Send(r.Context(), donation.MT{To: from, From: demo.ShortCode, Body: reply}); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
		}
	}))
	defer hook.Close()

	script, err := loadtest.NewScript(demo, 1000)
	if err != nil {
		t.Fatal(err)
	}
	numbers, err := loadtest.NewNumbers("+1312867", 1)
	if err != nil {
		t.Fatal(err)
	}
	res := loadtest.Run(context.Background(), loadtest.Config{
		Webhook: &loadtest.Webhook{URL: hook.URL, SignURL: hook.URL, AccountSID: account, AuthToken: token,
			HTTP: hook.Client(), Attempts: 1},
		Gateway: g, Script: script, Numbers: numbers,
		Donors: 2, Duration: 200 * time.Millisecond, Drain: 2 * time.Second, Timeout: 2 * time.Second,
	})

	mu.Lock()
	defer mu.Unlock()
	if len(pins) == 0 {
		t.Fatal("no PIN reached the webhook")
	}
	kept := map[string]bool{}
	for _, c := range res.Conversations {
		if c.Completed {
			t.Errorf("%s: completed without a receipt", c.Phone)
		}
		if c.PINSid != "" {
			kept[c.PINSid] = true
		}
	}
	for sid, right := range pins {
		if !right {
			t.Errorf("PIN text %s: not the PIN of the PIN text", sid)
		}
		if !kept[sid] {
			t.Errorf("PIN text %s, taken without a good answer: not kept for the check", sid)
		}
	}
}
