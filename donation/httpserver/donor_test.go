package httpserver_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/shortcode/shortcode/compliance"
	"github.com/shortcode/shortcode/donation"
	"github.com/shortcode/shortcode/donation/donationtest"
	"github.com/shortcode/shortcode/donation/httpserver"
	"github.com/shortcode/shortcode/storage"
	"github.com/shortcode/shortcode/storage/storagetest"
)

// postpaid answers every lookup: a US postpaid line on the test carrier.
type postpaid struct{}

func (postpaid) Lookup(context.Context, string) (donation.Line, error) {
	return donation.Line{Country: "US", Carrier: donationtest.DefaultCarrier, Type: donation.Postpaid}, nil
}

// donorEnv is the donation service and the donor pages on a real HTTP
// server on loopback, over a real store.
type donorEnv struct {
	t       *testing.T
	ctx     context.Context
	db      *storage.DB
	svc     *donation.Service
	clock   *donationtest.Clock
	carrier *donationtest.Carrier
	srv     *httptest.Server
	seq     int
}

// testRates let a test's pages take as many forms as it posts.
var testRates = httpserver.PageRates{
	GivePhone: httpserver.Rate{Every: time.Millisecond, Burst: 1000}, GiveIP: httpserver.Rate{Every: time.Millisecond, Burst: 1000},
	PINPhone: httpserver.Rate{Every: time.Millisecond, Burst: 1000}, PINIP: httpserver.Rate{Every: time.Millisecond, Burst: 1000},
}

// newDonorEnv starts the pages held to rates, or to testRates when none
// are given.
func newDonorEnv(t *testing.T, db *storage.DB, rates ...httpserver.PageRates) *donorEnv {
	t.Helper()
	ctx := context.Background()
	if err := db.SaveProgram(ctx, compliance.DemoProgram("https://sc.example")); err != nil {
		t.Fatal(err)
	}
	e := &donorEnv{t: t, ctx: ctx, db: db, clock: donationtest.NewClock(time.Now().UTC()), carrier: &donationtest.Carrier{}}
	e.svc = &donation.Service{Store: db, Outbox: db, Carriers: e.carrier, Looker: postpaid{}, Clock: e.clock,
		PINKey: []byte("donor pages PIN key, 32 bytes..."), ChargeBackoff: time.Nanosecond}
	hs := httpserver.New(slog.New(slog.DiscardHandler), db, db.Ready, "v-test")
	r := testRates
	if len(rates) > 0 {
		r = rates[0]
	}
	hs.DonorRoutes(e.svc, r)
	hs.LogRoutes(db, storagetest.LogVerifier())
	e.srv = httptest.NewServer(hs.Handler())
	t.Cleanup(e.srv.Close)
	return e
}

func (e *donorEnv) mo(phone, body string) {
	e.t.Helper()
	e.seq++
	e.clock.Advance(time.Second)
	if err := e.svc.HandleMO(e.ctx, donation.MO{Gateway: "test", MessageID: fmt.Sprintf("SM%032d", e.seq), From: phone, To: "62262", Body: body}); err != nil {
		e.t.Fatal(err)
	}
}

var pinTextRE = regexp.MustCompile(`Your PIN is ([0-9]{6})\. .* at sc\.example(/d/[A-Za-z0-9_-]{22}),`)

// certified runs GIVE 10 and YES by SMS and returns the PIN and the page's
// path from the PIN text.
func (e *donorEnv) certified(phone string) (pin, path string) {
	e.t.Helper()
	e.mo(phone, "GIVE 10")
	e.mo(phone, "YES")
	mts, err := e.db.MTs(e.ctx, phone)
	if err != nil {
		e.t.Fatal(err)
	}
	m := pinTextRE.FindStringSubmatch(mts[len(mts)-1].MT.Body)
	if m == nil {
		e.t.Fatalf("no PIN text: %q", mts[len(mts)-1].MT.Body)
	}
	return m[1], m[2]
}

func (e *donorEnv) texts(phone string) []string {
	e.t.Helper()
	mts, err := e.db.MTs(e.ctx, phone)
	if err != nil {
		e.t.Fatal(err)
	}
	var out []string
	for _, m := range mts {
		out = append(out, m.MT.Body)
	}
	return out
}

type page struct {
	status int
	header http.Header
	body   string
}

func get(t *testing.T, c *http.Client, u string) page {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	return read(t, resp)
}

func read(t *testing.T, resp *http.Response) page {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return page{resp.StatusCode, resp.Header, string(b)}
}

// checkHeaders: SPEC §4.5 and issue 8: every page carries the security
// headers, errors included.
func checkHeaders(t *testing.T, what string, p page) {
	t.Helper()
	csp := p.header.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "frame-ancestors 'none'", "form-action 'self'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("%s: CSP %q lacks %q", what, csp, want)
		}
	}
	if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "script-src") {
		t.Errorf("%s: CSP %q allows scripts or inline code", what, csp)
	}
	for h, want := range map[string]string{"Referrer-Policy": "no-referrer", "X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY"} {
		if got := p.header.Get(h); got != want {
			t.Errorf("%s: %s = %q, want %q", what, h, got, want)
		}
	}
	if strings.Contains(p.body, "<script") || strings.Contains(p.body, "goroutine ") {
		t.Errorf("%s: the page has a script or a stack trace", what)
	}
}

// TestTermsPage: GET /t/{program} holds every element of SPEC §4.5 with
// the committee's name and FEC ID and the program's own limits and prices;
// it shows its version and SHA-256, its exact text (format=text) hashes to
// them, and the hash a certification records is that of the page version
// the donor was shown; a change of the text gives a new version, and the
// old one stays readable with ?v=.
func TestTermsPage(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		e := newDonorEnv(t, db)
		c := e.srv.Client()
		p := get(t, c, e.srv.URL+"/t/demo")
		checkHeaders(t, "terms", p)
		if p.status != 200 || !strings.HasPrefix(p.header.Get("Content-Type"), "text/html") {
			t.Fatalf("GET /t/demo: %d %s", p.status, p.header.Get("Content-Type"))
		}
		body := html.UnescapeString(p.body)
		for _, want := range donationtest.TermsElements {
			if !strings.Contains(body, want) {
				t.Errorf("terms page lacks %q", want)
			}
		}
		version, sum := p.header.Get("X-Terms-Version"), p.header.Get("X-Terms-SHA256")
		if !strings.Contains(body, version) || !strings.Contains(body, sum) {
			t.Errorf("page does not show its version %s and SHA-256 %s", version, sum)
		}
		text := get(t, c, e.srv.URL+"/t/demo?format=text&v="+version)
		if got := sha256.Sum256([]byte(text.body)); hex.EncodeToString(got[:]) != sum || text.status != 200 {
			t.Fatalf("exact text (%d) does not hash to %s", text.status, sum)
		}
		for _, line := range strings.Split(text.body, "\n") {
			if line = strings.TrimLeft(line, "0123456789. "); line != "" && !strings.Contains(body, line) {
				t.Errorf("page lacks the line %q of its text", line)
			}
		}

		// A donor certifies: the record holds this page's version and hash.
		e.certified("+12125550100")
		cs, err := db.Certifications(e.ctx)
		if err != nil || len(cs) != 1 {
			t.Fatalf("certifications: %v %v", cs, err)
		}
		if cs[0].TermsSHA256 != sum || cs[0].TermsVersion != version {
			t.Errorf("certification records terms %s %s, the page showed %s %s", cs[0].TermsVersion, cs[0].TermsSHA256, version, sum)
		}

		// The program changes: a new version; the old one is still served.
		changed := compliance.DemoProgram("https://sc.example")
		changed.Limits.Month = 4000
		if err := db.SaveProgram(e.ctx, changed); err != nil {
			t.Fatal(err)
		}
		now := get(t, c, e.srv.URL+"/t/demo")
		if v := now.header.Get("X-Terms-Version"); v == version || !strings.Contains(html.UnescapeString(now.body), "at most $40 per calendar month") {
			t.Errorf("changed terms: version %s (was %s)", v, version)
		}
		old := get(t, c, e.srv.URL+"/t/demo?format=text&v="+version)
		if old.status != 200 || old.body != text.body || old.header.Get("X-Terms-SHA256") != sum {
			t.Errorf("old version: %d %q", old.status, old.header.Get("X-Terms-SHA256"))
		}
		if oldPage := get(t, c, e.srv.URL+"/t/demo?v="+version); !strings.Contains(oldPage.body, "not the current version") {
			t.Error("an old version is not marked as such")
		}

		for _, u := range []string{"/t/nope", "/t/demo?v=v1-000000000000"} {
			p := get(t, c, e.srv.URL+u)
			checkHeaders(t, u, p)
			if p.status != 404 || !strings.Contains(p.body, "<h1>") {
				t.Errorf("GET %s: %d %q", u, p.status, p.body)
			}
		}
	})
}

// pinForm fetches a donation page and returns it with its CSRF field.
func pinForm(t *testing.T, c *http.Client, u string) (page, string) {
	t.Helper()
	p := get(t, c, u)
	m := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(p.body)
	if m == nil {
		return p, ""
	}
	return p, m[1]
}

func post(t *testing.T, c *http.Client, u string, form url.Values) page {
	t.Helper()
	resp, err := c.PostForm(u, form)
	if err != nil {
		t.Fatal(err)
	}
	return read(t, resp)
}

func browser(t *testing.T) *http.Client {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Jar: jar}
}

// TestDonationPage: SPEC §4.5 /d/{token}. The page shows the amount, the
// committee, the masked number and the certification; a correct PIN
// completes the donation through the SMS PIN's step (the charge, then the
// SMS receipt); a resubmitted PIN charges nothing more; a form without its
// page's token (CSRF) is refused and changes nothing; wrong PINs on the web
// count toward the same limit as by SMS; expired and unknown tokens get a
// clear page and no charge.
func TestDonationPage(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		e := newDonorEnv(t, db)
		phone := "+12125550100"
		pin, path := e.certified(phone)
		c := browser(t)
		p, csrf := pinForm(t, c, e.srv.URL+path)
		checkHeaders(t, "donation page", p)
		body := html.UnescapeString(p.body)
		for _, want := range []string{"$10", "Demo PAC", "Demo Committee for Testing", "C99999999", "+1******0100",
			"I am 18 years of age or older.", "foreign national", "Paid for by Demo Committee for Testing", `<label for="pin">`} {
			if !strings.Contains(body, want) {
				t.Errorf("donation page lacks %q", want)
			}
		}
		if strings.Contains(body, "2125550100") || csrf == "" {
			t.Errorf("page shows the number, or has no CSRF field")
		}

		// A forged form: another site's post has no cookie, or a guessed token.
		for name, form := range map[string]url.Values{
			"no token":     {"pin": {pin}},
			"forged token": {"pin": {pin}, "csrf": {"forged"}},
		} {
			fresh := browser(t)
			if name == "forged token" {
				pinForm(t, fresh, e.srv.URL+path) // has a cookie, posts another value
			}
			p := post(t, fresh, e.srv.URL+path, form)
			checkHeaders(t, name, p)
			if p.status != 403 {
				t.Errorf("%s: %d", name, p.status)
			}
		}
		if n := e.carrier.Calls(); n != 0 {
			t.Fatalf("a forged form reached the carrier")
		}

		// One wrong PIN on the web, one by SMS, then the right one on the web.
		p = post(t, c, e.srv.URL+path, url.Values{"pin": {"000000"}, "csrf": {csrf}})
		if p.status != 200 || !strings.Contains(p.body, "That PIN is not right") || !strings.Contains(p.body, "2 tries left") {
			t.Errorf("wrong PIN: %d %s", p.status, p.body)
		}
		e.mo(phone, "111111")
		_, csrf = pinForm(t, c, e.srv.URL+path)
		p = post(t, c, e.srv.URL+path, url.Values{"pin": {pin}, "csrf": {csrf}})
		if !strings.Contains(p.body, "Thank you!") {
			t.Errorf("right PIN: %d %s", p.status, p.body)
		}
		if _, err := e.svc.ChargePending(e.ctx); err != nil {
			t.Fatal(err)
		}
		texts := e.texts(phone)
		if last := texts[len(texts)-1]; !strings.HasPrefix(last, "Thank you! $10 to Demo PAC") {
			t.Errorf("no SMS receipt: %q", last)
		}
		// Resubmitted: nothing more is charged.
		p = post(t, c, e.srv.URL+path, url.Values{"pin": {pin}, "csrf": {csrf}})
		if !strings.Contains(p.body, "already been confirmed") {
			t.Errorf("resubmitted PIN: %d %s", p.status, p.body)
		}
		if _, err := e.svc.ChargePending(e.ctx); err != nil {
			t.Fatal(err)
		}
		if n, cents := e.carrier.Charged(); n != 1 || cents != 1000 {
			t.Errorf("charged %d times, %d cents", n, cents)
		}
		if ds, _ := db.Donations(e.ctx, phone); len(ds) != 1 || ds[0].Status != donation.Completed {
			t.Errorf("donations %+v", ds)
		}

		// Three wrong PINs, mixed web and SMS, lock as by SMS alone.
		other := "+12125550101"
		pin2, path2 := e.certified(other)
		c2 := browser(t)
		_, csrf2 := pinForm(t, c2, e.srv.URL+path2)
		post(t, c2, e.srv.URL+path2, url.Values{"pin": {"000000"}, "csrf": {csrf2}})
		e.mo(other, "111111")
		p = post(t, c2, e.srv.URL+path2, url.Values{"pin": {"not a pin"}, "csrf": {csrf2}})
		if !strings.Contains(p.body, "Too many wrong PINs") {
			t.Errorf("third wrong PIN: %s", p.body)
		}
		p = post(t, c2, e.srv.URL+path2, url.Values{"pin": {pin2}, "csrf": {csrf2}})
		if strings.Contains(p.body, "Thank you!") || strings.Contains(p.body, `name="pin"`) {
			t.Errorf("right PIN after the lock: %s", p.body)
		}
		if ds, _ := db.Donations(e.ctx, other); len(ds) != 1 || ds[0].Status != donation.Cancelled || ds[0].Reserved() {
			t.Errorf("locked donation %+v", ds)
		}
		if texts := e.texts(other); !strings.Contains(texts[len(texts)-1], "too many wrong PINs") {
			t.Errorf("no SMS on the lock: %q", texts[len(texts)-1])
		}

		// Expired: the token dies with the PIN.
		third := "+12125550102"
		pin3, path3 := e.certified(third)
		c3 := browser(t)
		_, csrf3 := pinForm(t, c3, e.srv.URL+path3)
		e.clock.Advance(11 * time.Minute)
		p = get(t, c3, e.srv.URL+path3)
		if !strings.Contains(p.body, "expired") || strings.Contains(p.body, `name="pin"`) {
			t.Errorf("expired page: %s", p.body)
		}
		p = post(t, c3, e.srv.URL+path3, url.Values{"pin": {pin3}, "csrf": {csrf3}})
		if !strings.Contains(p.body, "expired") || strings.Contains(p.body, "Thank you!") {
			t.Errorf("PIN on an expired page: %s", p.body)
		}

		// Unknown tokens: a clear page, never a stack trace.
		for _, u := range []string{"/d/AAAAAAAAAAAAAAAAAAAAAA", "/d/x", "/d/%27%20OR%201=1--"} {
			p := get(t, c, e.srv.URL+u)
			checkHeaders(t, u, p)
			if p.status != 404 || !strings.Contains(p.body, "This donation link is not valid") {
				t.Errorf("GET %s: %d %s", u, p.status, p.body)
			}
		}
		if _, err := e.svc.ChargePending(e.ctx); err != nil {
			t.Fatal(err)
		}
		if n, _ := e.carrier.Charged(); n != 1 {
			t.Errorf("%d charges in all, want 1", n)
		}
	})
}
