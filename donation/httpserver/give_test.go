package httpserver_test

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"html"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/shortcode/shortcode/compliance"
	"github.com/shortcode/shortcode/compliance/certlog"
	"github.com/shortcode/shortcode/donation"
	"github.com/shortcode/shortcode/donation/auth"
	"github.com/shortcode/shortcode/donation/donationtest"
	"github.com/shortcode/shortcode/donation/httpserver"
	"github.com/shortcode/shortcode/storage"
	"github.com/shortcode/shortcode/storage/storagetest"
)

const testUA = "Mozilla/5.0 (shortcode test)"

// giveForm fetches the /give page and returns it with its CSRF field.
func giveForm(t *testing.T, c *http.Client, u string) (page, string) {
	t.Helper()
	return pinForm(t, c, u)
}

// postAs posts form from the test's browser; it follows a redirect and
// returns the page and the path it ended at.
func postAs(t *testing.T, c *http.Client, u string, form url.Values) (page, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("User-Agent", testUA)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	path := resp.Request.URL.Path
	return read(t, resp), path
}

// audit GETs an auditor's route and returns its body.
func (e *donorEnv) audit(t *testing.T, path string) string {
	t.Helper()
	tok, secret, hash, err := auth.New(nil, "auditor", auth.Auditor, time.Now().UTC())
	if err != nil {
		t.Fatal(err)
	}
	if err := e.db.CreateToken(e.ctx, tok, hash, "test"); err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodGet, e.srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+secret)
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %s %v", path, resp.StatusCode, b, err)
	}
	return string(b)
}

func gift(phone, amount, csrf string, certify bool) url.Values {
	v := url.Values{"phone": {phone}, "amount": {amount}, "csrf": {csrf}}
	if certify {
		v.Set("certify", "yes")
	}
	return v
}

// nothingFor checks that a refused form left no trace of phone: no text,
// no donation, no certification, no charge.
func (e *donorEnv) nothingFor(what, phone string) {
	e.t.Helper()
	if texts := e.texts(phone); len(texts) != 0 {
		e.t.Errorf("%s: texts %q", what, texts)
	}
	if ds, err := e.db.Donations(e.ctx, phone); err != nil || len(ds) != 0 {
		e.t.Errorf("%s: donations %+v, %v", what, ds, err)
	}
	cs, err := e.db.Certifications(e.ctx)
	if err != nil {
		e.t.Fatal(err)
	}
	for _, c := range cs {
		if c.Phone == phone {
			e.t.Errorf("%s: certification %+v", what, c)
		}
	}
	if n := e.carrier.Calls(); n != 0 {
		e.t.Errorf("%s: %d carrier calls", what, n)
	}
}

// TestGive: SPEC §4.5, AO 2012-17's second flow. The /give form shows the
// amounts and the full certification beside its checkbox; a number alone
// (no box ticked) texts, stores, certifies and charges nothing; a ticked
// form is screened and reserved as a keyword is, records a certification
// on channel web whose log record's client digest the opening (IP and user
// agent) checks, and texts a PIN linking to the donation's page; the PIN on
// that page charges once and is recorded with its channel, time, IP and
// user agent; a form without its page's token is refused.
func TestGive(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		e := newDonorEnv(t, db)
		c := browser(t)
		u := e.srv.URL + "/give/demo"
		p, csrf := giveForm(t, c, u)
		checkHeaders(t, "give", p)
		body := html.UnescapeString(p.body)
		if p.status != 200 || csrf == "" {
			t.Fatalf("GET /give/demo: %d, csrf %q", p.status, csrf)
		}
		for _, want := range []string{
			`<label for="phone">`, `type="checkbox" name="certify"`, `value="500"`, `value="2000"`,
			"I am a United States citizen or a lawful permanent resident", "I am 18 years of age or older.",
			"I am not a federal government contractor.", "is not paid for by a corporation, labor organization or other business",
			"/t/demo?v=", "Demo Committee for Testing", "C99999999", "Paid for by Demo Committee for Testing", "not tax deductible",
		} {
			if !strings.Contains(body, want) {
				t.Errorf("give page lacks %q", want)
			}
		}

		// A number alone: nothing at all.
		phone := "+12125550100"
		p, _ = postAs(t, c, u, gift("(212) 555-0100", "1000", csrf, false))
		checkHeaders(t, "number alone", p)
		if p.status != http.StatusUnprocessableEntity || !strings.Contains(p.body, "tick the box") {
			t.Errorf("number alone: %d %s", p.status, p.body)
		}
		e.nothingFor("number alone", phone)

		// CSRF: another site's form, or a forged token, changes nothing.
		for name, form := range map[string]url.Values{
			"no token":     gift(phone, "1000", "", true),
			"forged token": gift(phone, "1000", "forged", true),
		} {
			p, _ := postAs(t, browser(t), u, form)
			checkHeaders(t, name, p)
			if p.status != http.StatusForbidden {
				t.Errorf("%s: %d", name, p.status)
			}
		}
		e.nothingFor("forged forms", phone)

		// The gift: a PIN by text, the donation's page, the PIN on it.
		p, path := postAs(t, c, u, gift("(212) 555-0100", "1000", csrf, true))
		if p.status != 200 || !strings.HasPrefix(path, "/d/") || !strings.Contains(p.body, `name="pin"`) {
			t.Fatalf("gift: %d at %s: %s", p.status, path, p.body)
		}
		texts := e.texts(phone)
		if len(texts) != 1 {
			t.Fatalf("texts after the gift: %q", texts)
		}
		m := pinTextRE.FindStringSubmatch(texts[0])
		if m == nil || m[2] != path {
			t.Fatalf("PIN text %q does not link to %s", texts[0], path)
		}
		if e.carrier.Calls() != 0 {
			t.Fatal("the form alone reached the carrier")
		}
		_, pinCSRF := pinForm(t, c, e.srv.URL+path)
		p, _ = postAs(t, c, e.srv.URL+path, url.Values{"pin": {m[1]}, "csrf": {pinCSRF}})
		if !strings.Contains(p.body, "Thank you!") {
			t.Fatalf("PIN on the page: %d %s", p.status, p.body)
		}
		p, _ = postAs(t, c, e.srv.URL+path, url.Values{"pin": {m[1]}, "csrf": {pinCSRF}})
		if !strings.Contains(p.body, "already been confirmed") {
			t.Errorf("resubmitted PIN: %s", p.body)
		}
		if _, err := e.svc.ChargePending(e.ctx); err != nil {
			t.Fatal(err)
		}
		if n, cents := e.carrier.Charged(); n != 1 || cents != 1000 {
			t.Errorf("charged %d times, %d cents", n, cents)
		}
		ds, err := db.Donations(e.ctx, phone)
		if err != nil || len(ds) != 1 || ds[0].Status != donation.Completed {
			t.Fatalf("donations %+v, %v", ds, err)
		}
		texts = e.texts(phone)
		if last := texts[len(texts)-1]; !strings.HasPrefix(last, "Thank you! $10 to Demo PAC") {
			t.Errorf("no SMS receipt: %q", last)
		}

		// The certification: channel web, its opening checks.
		storagetest.Sequence(t, db)
		entry, err := db.EntryOf(e.ctx, ds[0].ID)
		if err != nil {
			t.Fatal(err)
		}
		r, err := certlog.Parse(entry.Record)
		if err != nil {
			t.Fatal(err)
		}
		if r.Channel != certlog.Web || r.MessageID != "" || r.Amount != 1000 {
			t.Errorf("record %+v", r)
		}
		if entry.Opening.IP != "127.0.0.1" || entry.Opening.UserAgent != testUA || entry.Opening.Phone != phone {
			t.Errorf("opening %+v", entry.Opening)
		}
		if err := entry.Opening.Check(r); err != nil {
			t.Errorf("opening: %v", err)
		}
		prog := compliance.DemoProgram("https://sc.example")
		if _, sum := compliance.Version(donation.WebCertification(prog)); hex.EncodeToString(r.TextSHA256[:]) != sum {
			t.Errorf("record's text hash is not that of the certification shown")
		}
		// The PIN's evidence, as stored and as the auditor gets it.
		v, err := db.Verification(e.ctx, ds[0].ID)
		if err != nil || v.Channel != "web" || v.IP != "127.0.0.1" || v.UserAgent != testUA || v.At.IsZero() {
			t.Errorf("PIN verification %+v, %v", v, err)
		}
		var ev httpserver.EvidenceOfDonation
		if err := json.Unmarshal([]byte(e.audit(t, "/api/v1/audit/donations/"+ds[0].ID)), &ev); err != nil {
			t.Fatal(err)
		}
		if ev.PIN == nil || ev.PIN.Channel != "web" || ev.PIN.IP != "127.0.0.1" || ev.PIN.UserAgent != testUA ||
			ev.Opening.UserAgent != testUA || ev.Opening.Check(r) != nil {
			t.Errorf("evidence: PIN %+v, opening %+v", ev.PIN, ev.Opening)
		}
	})
}

// lines answers lookups from a table, postpaid for any other number.
type lines map[string]donation.Line

func (l lines) Lookup(_ context.Context, phone string) (donation.Line, error) {
	if line, ok := l[phone]; ok {
		return line, nil
	}
	return postpaid{}.Lookup(context.Background(), phone)
}

// TestGiveRefused: SPEC §4.5, §5, §6.1. A number screening refuses (a
// prepaid line), a gift over a cap, a number that opted out and a bad
// number each get a friendly page saying no charge was made, and leave no
// text, donation or certification.
func TestGiveRefused(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		e := newDonorEnv(t, db)
		e.svc.Looker = lines{"+12125550111": {Country: "US", Carrier: donationtest.DefaultCarrier, Type: donation.Prepaid}}
		capped := compliance.DemoProgram("https://sc.example")
		capped.Limits.Month = 1500
		if err := db.SaveProgram(e.ctx, capped); err != nil {
			t.Fatal(err)
		}
		e.mo("+12125550113", "STOP")
		c := browser(t)
		u := e.srv.URL + "/give/demo"
		_, csrf := giveForm(t, c, u)
		for _, tc := range []struct {
			name, phone, amount string
			status              int
			want                string
		}{
			{"prepaid", "+12125550111", "1000", http.StatusForbidden, "cannot give by text"},
			{"over the cap", "+12125550112", "2000", http.StatusForbidden, "you may still give $15"},
			{"opted out", "+12125550113", "500", http.StatusForbidden, "text START"},
			{"not a number", "12", "500", http.StatusUnprocessableEntity, "10-digit US mobile number"},
			{"not a price point", "+12125550114", "700", http.StatusUnprocessableEntity, "choose one of the amounts"},
		} {
			p, path := postAs(t, c, u, gift(tc.phone, tc.amount, csrf, true))
			checkHeaders(t, tc.name, p)
			if p.status != tc.status || path != "/give/demo" || !strings.Contains(p.body, tc.want) || !strings.Contains(p.body, "No charge was made") {
				t.Errorf("%s: %d at %s: %s", tc.name, p.status, path, p.body)
			}
			if tc.name != "opted out" && tc.name != "not a number" {
				e.nothingFor(tc.name, tc.phone)
			}
		}
		if texts := e.texts("+12125550113"); len(texts) != 1 {
			t.Errorf("opted-out number got %q", texts)
		}
	})
}

var retryAfter = regexp.MustCompile(`^[0-9]+$`)

// TestGiveRateLimits: SPEC §11. Gifts on /give are limited per number and
// per IP address, and PINs on /d per address: over the rate the answer is
// 429 with a friendly page, and nothing is texted or counted.
func TestGiveRateLimits(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		slow := httpserver.Rate{Every: time.Hour, Burst: 1}
		e := newDonorEnv(t, db, httpserver.PageRates{
			GivePhone: slow, GiveIP: httpserver.Rate{Every: time.Hour, Burst: 3},
			PINPhone: httpserver.Rate{Every: time.Hour, Burst: 100}, PINIP: httpserver.Rate{Every: time.Hour, Burst: 2},
		})
		c := browser(t)
		u := e.srv.URL + "/give/demo"
		_, csrf := giveForm(t, c, u)
		tooMany := func(name string, p page) {
			t.Helper()
			checkHeaders(t, name, p)
			if p.status != http.StatusTooManyRequests || !strings.Contains(p.body, "Please wait") ||
				!retryAfter.MatchString(p.header.Get("Retry-After")) {
				t.Errorf("%s: %d %q %s", name, p.status, p.header.Get("Retry-After"), p.body)
			}
		}
		a := "+12125550120"
		p, path := postAs(t, c, u, gift(a, "500", csrf, true))
		if !strings.HasPrefix(path, "/d/") {
			t.Fatalf("first gift: %d at %s", p.status, path)
		}
		p, _ = postAs(t, c, u, gift(a, "500", csrf, true))
		tooMany("same number", p)
		if texts := e.texts(a); len(texts) != 1 {
			t.Errorf("number over its rate got %d texts", len(texts))
		}
		if p, path := postAs(t, c, u, gift("+12125550121", "500", csrf, true)); !strings.HasPrefix(path, "/d/") {
			t.Errorf("another number: %d at %s", p.status, path)
		}
		p, _ = postAs(t, c, u, gift("+12125550122", "500", csrf, true))
		tooMany("same address", p)
		e.nothingFor("over the address's rate", "+12125550122")

		_, pinCSRF := pinForm(t, c, e.srv.URL+path)
		for i := range 2 {
			if p, _ := postAs(t, c, e.srv.URL+path, url.Values{"pin": {"000000"}, "csrf": {pinCSRF}}); !strings.Contains(p.body, "That PIN is not right") {
				t.Errorf("wrong PIN %d: %d %s", i, p.status, p.body)
			}
		}
		p, _ = postAs(t, c, e.srv.URL+path, url.Values{"pin": {"000000"}, "csrf": {pinCSRF}})
		tooMany("PINs from one address", p)
		if ds, _ := db.Donations(e.ctx, a); len(ds) != 1 || ds[0].PINTries != 2 || ds[0].Status != donation.Open {
			t.Errorf("donation after the PIN rate: %+v", ds)
		}
	})
}
