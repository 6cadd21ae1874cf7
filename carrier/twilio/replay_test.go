package twilio_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/shortcode/shortcode/carrier/twilio"
	"github.com/shortcode/shortcode/compliance"
	"github.com/shortcode/shortcode/donation"
	"github.com/shortcode/shortcode/donation/httpserver"
	"github.com/shortcode/shortcode/storage"
	"github.com/shortcode/shortcode/storage/storagetest"
)

// TestReSplitReplayOnStores replays captured MOs, re-split under their
// signatures, at the real service on each store (issue 6): a START after the
// donor's STOP must not opt the number back in, a HELP must not be answered
// twice, and nothing may be stored or queued.
func TestReSplitReplayOnStores(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		program := compliance.DemoProgram("https://sc.example")
		if err := db.SaveProgram(ctx, program); err != nil {
			t.Fatal(err)
		}
		svc := &donation.Service{Store: db, Outbox: db, Clock: donation.SystemClock{},
			PINKey: []byte("replay test PIN key, 32 bytes.."),
		}
		svc.Start()
		w := &twilio.Webhook{AuthToken: testToken, AccountSID: testAccount, MOs: svc, Statuses: db,
			Log: slog.New(slog.DiscardHandler)}
		r := httpserver.New(nil, nil, nil, "")
		w.Register(r)
		srv := httptest.NewServer(r.Handler())
		defer srv.Close()
		w.PublicURL = srv.URL
		target := srv.URL + twilio.SMSPath

		const (
			donor    = "+12125550100"
			attacker = "+12125550199"
		)
		short := program.ShortCode
		n := 0
		// mo is a message as the simulator's gateway posts it.
		mo := func(from, body string) url.Values {
			n++
			sid := fmt.Sprintf("SM%032x", n)
			return url.Values{
				"MessageSid": {sid}, "SmsSid": {sid}, "SmsMessageSid": {sid}, "AccountSid": {testAccount},
				"From": {from}, "To": {short}, "Body": {body}, "NumMedia": {"0"}, "NumSegments": {"1"},
				"SmsStatus": {"received"}, "ApiVersion": {"2010-04-01"},
			}
		}
		// post sends form with the signature of signed.
		post := func(form, signed url.Values) int {
			t.Helper()
			req, err := http.NewRequest(http.MethodPost, target, strings.NewReader(form.Encode()))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			sig := twilio.Signature(testToken, target, signed)
			if twilio.Signature(testToken, target, form) != sig {
				t.Fatal("the re-split form does not carry the genuine signature")
			}
			req.Header.Set(twilio.SignatureHeader, sig)
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			return resp.StatusCode
		}
		send := func(form url.Values) {
			t.Helper()
			if code := post(form, form); code != 200 {
				t.Fatalf("%s: status %d, want 200", form.Get("Body"), code)
			}
		}
		// resplit is form with MessageSid swallowing NumMedia, which keeps
		// the signature and makes a new message id.
		resplit := func(form url.Values) url.Values {
			f := url.Values{}
			for k, v := range form {
				f[k] = v
			}
			f.Set("MessageSid", form.Get("MessageSid")+"NumMedia"+form.Get("NumMedia"))
			f.Del("NumMedia")
			return f
		}
		type counts struct{ mos, mts, consent int }
		count := func() counts {
			t.Helper()
			mos, err := db.MOCount(ctx)
			if err != nil {
				t.Fatal(err)
			}
			mts, err := db.MTs(ctx, donor)
			if err != nil {
				t.Fatal(err)
			}
			events, err := db.ConsentEvents(ctx, donor)
			if err != nil {
				t.Fatal(err)
			}
			return counts{mos, len(mts), len(events)}
		}
		optedOut := func() bool {
			t.Helper()
			var out bool
			err := db.Update(ctx, donor, func(tx donation.Tx) error {
				s, err := tx.Subscriber(ctx, donor, short)
				out = s.OptedOut
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			return out
		}

		// The donor opts out, back in (this START is captured), and out again.
		send(mo(donor, "STOP"))
		start := mo(donor, "START")
		send(start)
		send(mo(donor, "STOP"))
		if !optedOut() {
			t.Fatal("the donor is not opted out after STOP")
		}
		before := count()
		if code := post(resplit(start), start); code == 200 {
			t.Errorf("replayed START: status 200")
		}
		if !optedOut() {
			t.Error("a replayed START opted the donor back in")
		}
		if got := count(); got != before {
			t.Errorf("replayed START: MOs, MTs, consent events %+v, want %+v", got, before)
		}

		// The attacker texts a body that holds a START from the donor and
		// re-splits the signed request so that it seems to be that START.
		fake := "SM" + strings.Repeat("9", 32)
		carved := mo(attacker, "START"+"From"+donor+"MessageSid"+fake+"To"+short+"Zz")
		send(carved)
		before = count()
		forged := url.Values{"AccountSid": {testAccount}, "ApiVersion": {"2010-04-01"}, "Body": {"START"},
			"From": {donor}, "MessageSid": {fake}, "To": {short}}
		var tail strings.Builder
		for _, k := range []string{"From", "MessageSid", "NumMedia", "NumSegments", "SmsMessageSid", "SmsSid", "SmsStatus", "To"} {
			tail.WriteString(k + carved.Get(k))
		}
		forged.Set("Zz", tail.String())
		if code := post(forged, carved); code == 200 {
			t.Errorf("START carved from another number's text: status 200")
		}
		if !optedOut() {
			t.Error("a START carved from another number's text opted the donor back in")
		}
		if got := count(); got != before {
			t.Errorf("carved START: MOs, MTs, consent events %+v, want %+v", got, before)
		}

		// HELP is answered whether or not the number is opted out: once.
		help := mo(donor, "HELP")
		send(help)
		before = count()
		if code := post(resplit(help), help); code == 200 {
			t.Errorf("replayed HELP: status 200")
		}
		if code := post(help, help); code != 200 {
			t.Errorf("HELP delivered again: status %d, want 200", code)
		}
		if got := count(); got != before {
			t.Errorf("replayed HELP: MOs, MTs, consent events %+v, want %+v", got, before)
		}
	})
}
