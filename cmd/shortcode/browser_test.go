package main

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/shortcode/shortcode/carrier/sim"
	"github.com/shortcode/shortcode/compliance"
	"github.com/shortcode/shortcode/donation/donationtest"
)

// These tests drive the donor pages (SPEC §4.5, issue 8) in a real headless
// Chromium (Debian's chromium package) against a `shortcode serve` process
// and the carrier simulator. They skip when /usr/bin/chromium is missing,
// unless SHORTCODE_REQUIRE_BROWSER=1 (as .ci/run sets). With
// SHORTCODE_UPDATE_SCREENSHOTS=1 they rewrite docs/screenshots/.

const chromiumPath = "/usr/bin/chromium"

// browser starts a headless Chromium with a fresh profile and returns a
// context for its first tab.
func browser(t *testing.T) context.Context {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		if os.Getenv("SHORTCODE_REQUIRE_BROWSER") == "1" {
			t.Fatalf("SHORTCODE_REQUIRE_BROWSER=1 but %s is missing: %v", chromiumPath, err)
		}
		t.Skipf("%s is missing (apt-get install chromium); set SHORTCODE_REQUIRE_BROWSER=1 to fail instead", chromiumPath)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(t.TempDir()),
		// The network is closed: without these Chromium's own background
		// connections are refused and slow it down.
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("hide-scrollbars", true),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start %s: %v", chromiumPath, err)
	}
	return ctx
}

// tab opens a new tab of the browser of ctx, with a deadline.
func tab(t *testing.T, ctx context.Context) context.Context {
	t.Helper()
	tctx, cancel := chromedp.NewContext(ctx)
	tctx, cancelT := context.WithTimeout(tctx, 60*time.Second)
	t.Cleanup(func() { cancelT(); cancel() })
	return tctx
}

// do runs browser actions and fails the test at once on an error.
func do(t *testing.T, ctx context.Context, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, actions...); err != nil {
		t.Fatal(err)
	}
}

// read runs a browser action that reads a value, and fails the test at
// once on an error.
func read[T any](t *testing.T, ctx context.Context, a chromedp.Action[T]) T {
	t.Helper()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// pageText is the rendered text of the page (innerText: what is shown,
// not what is hidden by CSS).
func pageText(t *testing.T, ctx context.Context) string {
	t.Helper()
	return read(t, ctx, chromedp.Evaluate[string](`document.body.innerText`))
}

// navigate opens url and returns the HTTP status of the document.
func navigate(t *testing.T, ctx context.Context, url string) int64 {
	t.Helper()
	resp, err := chromedp.RunResponse(ctx, chromedp.Navigate(url))
	if err != nil {
		t.Fatalf("open %s: %v", url, err)
	}
	return resp.Status
}

// submitPIN types pin into the PIN form and submits it, waiting for the
// page the server answers.
func submitPIN(t *testing.T, ctx context.Context, pin string) int64 {
	t.Helper()
	read(t, ctx, chromedp.Evaluate[string](`document.querySelector('#pin').value = ''`))
	resp, err := chromedp.RunResponse(ctx,
		chromedp.SendKeys(chromedp.CSS(`#pin`), pin),
		chromedp.Click(chromedp.CSS(`form button[type=submit]`)),
	)
	if err != nil {
		t.Fatalf("submit PIN %s: %v", pin, err)
	}
	return resp.Status
}

// hasForm says whether the page shows the PIN form.
func hasForm(t *testing.T, ctx context.Context) bool {
	t.Helper()
	return read(t, ctx, chromedp.Evaluate[int](`document.querySelectorAll('form input#pin').length`)) > 0
}

// browserEnv is a serve process, the simulator its carriers use, and a
// browser.
type browserEnv struct {
	srv    *server
	sim    *sim.Sim
	db     string
	ctx    context.Context
	phones int
}

func newBrowserEnv(t *testing.T) *browserEnv {
	t.Helper()
	ctx := browser(t)
	addr := freeAddr(t)
	s, simURL, carriers := standaloneSim(t, "http://"+addr, 100*time.Millisecond)
	db := filepath.Join(t.TempDir(), "browser.db")
	srv := serve(t, addr, "--db", db, "--sim-addr", "off", "--twilio-api-url", simURL, "--carriers", carriers,
		"--twilio-auth-token", "test-token", "--charge-backoff", "50ms", "--merge-delay", "50ms")
	return &browserEnv{srv: srv, sim: s, db: db, ctx: ctx}
}

var reDonationLink = regexp.MustCompile(`(\S+/d/[A-Za-z0-9_-]{22})\b`)

// pinText has a new donor text GIVE amount and YES, and returns the donor,
// the PIN and the link to the donation's page from the PIN text.
func (e *browserEnv) pinText(t *testing.T, amount int) (*donor, string, string) {
	t.Helper()
	e.phones++
	d := &donor{t: t, sim: e.sim, phone: fmt.Sprintf("+1312555%04d", 150+e.phones), to: "62262"}
	d.say(fmt.Sprintf("GIVE %d", amount))
	d.next(reConfirm)
	d.say("YES")
	m := d.next(rePIN)
	link := reDonationLink.FindStringSubmatch(d.sim.Messages(d.phone)[0].Body)
	if link == nil {
		t.Fatalf("PIN text %q has no link to the donation's page", d.sim.Messages(d.phone)[0].Body)
	}
	return d, m[1], "http://" + link[1]
}

// charges counts the simulator's charges to phone.
func charges(s *sim.Sim, phone string) (n int, cents int64) {
	for _, c := range s.Ledger() {
		if c.Kind == sim.KindCharge && c.Phone == phone {
			n++
			cents += c.Amount
		}
	}
	return n, cents
}

// TestBrowser: the donor pages in a real browser.
func TestBrowser(t *testing.T) {
	e := newBrowserEnv(t)
	start := time.Now()
	defer func() { t.Logf("browser tests took %v", time.Since(start).Round(time.Millisecond)) }()

	// SPEC §4.5, issue 8: an SMS-started donation completes on its page;
	// the SMS receipt follows and the carrier's ledger shows one charge.
	// Going back and submitting the used PIN again charges nothing more.
	t.Run("SMSStartedDonation", func(t *testing.T) {
		d, pin, link := e.pinText(t, 10)
		ctx := tab(t, e.ctx)
		stale := tab(t, e.ctx) // the same page, as a back button could show it
		if st := navigate(t, ctx, link); st != 200 {
			t.Fatalf("GET %s: %d", link, st)
		}
		navigate(t, stale, link)
		text := pageText(t, ctx)
		for _, want := range []string{
			"Your gift to Demo PAC", "$10", "Demo Committee for Testing (FEC ID C99999999)",
			"the mobile account of " + compliance.MaskPhone(d.phone),
			"What you certified", "I am a United States citizen or a lawful permanent resident",
			"I am 18 years of age or older.", "I am not a federal government contractor.",
			"not tax deductible", "Paid for by Demo Committee for Testing.",
		} {
			if !strings.Contains(text, want) {
				t.Errorf("donation page lacks %q:\n%s", want, text)
			}
		}
		if strings.Contains(text, d.phone) || strings.Contains(text, d.phone[2:]) {
			t.Errorf("donation page shows the whole number %s", d.phone)
		}
		if !hasForm(t, ctx) {
			t.Fatal("no PIN form on the page")
		}
		if st := submitPIN(t, ctx, pin); st != 200 {
			t.Errorf("POST PIN: %d", st)
		}
		text = pageText(t, ctx)
		if !strings.Contains(text, "Thank you") || !strings.Contains(text, "Your gift is being charged to your mobile account") {
			t.Errorf("after the PIN the page says:\n%s", text)
		}
		if hasForm(t, ctx) {
			t.Error("the page still offers the PIN form after the gift was confirmed")
		}
		checkA11y(t, ctx, "donation-thanks")
		shot(t, ctx, "donation-thanks")
		d.next(reReceipt)
		if n, cents := charges(e.sim, d.phone); n != 1 || cents != 1000 {
			t.Fatalf("ledger: %d charges of %d cents in all, want one of 1000", n, cents)
		}
		// Back to the form's page: it is fetched again (no-store) and says
		// the gift is confirmed, without a form; if a browser showed the
		// old form, submitting it again would charge nothing more.
		do(t, ctx, chromedp.NavigateBack())
		if loc := read(t, ctx, chromedp.Location()); loc != link {
			t.Errorf("back went to %s, want %s", loc, link)
		}
		if text := pageText(t, ctx); !strings.Contains(text, "already been confirmed") || hasForm(t, ctx) {
			t.Errorf("back on the page of a confirmed gift:\n%s", text)
		}
		// The stale form in the other tab, submitted with the used PIN.
		if st := submitPIN(t, stale, pin); st != 200 {
			t.Errorf("resubmitted PIN: %d", st)
		}
		if text := pageText(t, stale); !strings.Contains(text, "nothing more will be charged") {
			t.Errorf("a resubmitted PIN gets:\n%s", text)
		}
		time.Sleep(300 * time.Millisecond) // a second charge would be posted by now
		if n, _ := charges(e.sim, d.phone); n != 1 {
			t.Errorf("ledger: %d charges after the PIN was resubmitted, want 1", n)
		}
		if ms := e.sim.Messages(d.phone); len(ms) != 3 {
			t.Errorf("%d texts to the donor, want 3 (confirmation, PIN, one receipt); newest: %q", len(ms), ms[0].Body)
		}
	})

	// SPEC §4.5: the terms page shows every element, as rendered text.
	t.Run("TermsPage", func(t *testing.T) {
		ctx := tab(t, e.ctx)
		if st := navigate(t, ctx, e.srv.url+"/t/demo"); st != 200 {
			t.Fatalf("GET /t/demo: %d", st)
		}
		text := pageText(t, ctx)
		for _, want := range donationtest.TermsElements {
			if !strings.Contains(text, want) {
				t.Errorf("terms page does not show %q", want)
			}
		}
		if title := read(t, ctx, chromedp.Title()); title == "" {
			t.Error("terms page has no title")
		}
		if !regexp.MustCompile(`Version \S+.*SHA-256 of the exact text: [0-9a-f]{64}`).MatchString(text) {
			t.Errorf("terms page does not show its version and SHA-256:\n%s", text)
		}
	})

	// Wrong PINs on the page lock the gift after the program's limit (3),
	// as on SMS; no charge is made and the right PIN no longer works.
	t.Run("WrongPINsLock", func(t *testing.T) {
		d, pin, link := e.pinText(t, 5)
		ctx := tab(t, e.ctx)
		navigate(t, ctx, link)
		wrong := fmt.Sprintf("%06d", (mustAtoi(t, pin)+1)%1000000)
		for try := 1; try <= 3; try++ {
			submitPIN(t, ctx, wrong)
			text := pageText(t, ctx)
			if try < 3 {
				if !strings.Contains(text, "That PIN is not right. No charge was made.") || !strings.Contains(text, fmt.Sprintf("You have %d tr", 3-try)) {
					t.Errorf("wrong PIN %d gets:\n%s", try, text)
				}
				continue
			}
			if !strings.Contains(text, "Too many wrong PINs, so this gift was cancelled and no charge was made.") || hasForm(t, ctx) {
				t.Errorf("the third wrong PIN gets:\n%s", text)
			}
		}
		shot(t, ctx, "donation-locked")
		d.say(pin) // the right PIN, by SMS, after the lock
		time.Sleep(300 * time.Millisecond)
		if n, _ := charges(e.sim, d.phone); n != 0 {
			t.Errorf("ledger: %d charges after the lock, want none", n)
		}
	})

	// An unknown token gets a clear page, 404, never a stack trace.
	t.Run("UnknownToken", func(t *testing.T) {
		ctx := tab(t, e.ctx)
		if st := navigate(t, ctx, e.srv.url+"/d/AAAAAAAAAAAAAAAAAAAAAA"); st != 404 {
			t.Errorf("unknown token: %d, want 404", st)
		}
		text := pageText(t, ctx)
		if !strings.Contains(text, "Link not found") || !strings.Contains(text, "no charge was made") {
			t.Errorf("unknown token gets:\n%s", text)
		}
		checkA11y(t, ctx, "error")
		shot(t, ctx, "error-not-found")
	})

	// An expired request: its page says so, without a form, and the PIN
	// submitted from a page opened before it expired charges nothing.
	t.Run("ExpiredToken", func(t *testing.T) {
		d, pin, link := e.pinText(t, 15)
		ctx := tab(t, e.ctx)
		navigate(t, ctx, link)
		expire(t, e.db, link[strings.LastIndex(link, "/")+1:])
		stale := tab(t, e.ctx)
		navigate(t, stale, link)
		if text := pageText(t, stale); !strings.Contains(text, "This request has expired and no charge was made.") || hasForm(t, stale) {
			t.Errorf("expired request's page says:\n%s", text)
		}
		shot(t, stale, "donation-expired")
		submitPIN(t, ctx, pin)
		if text := pageText(t, ctx); !strings.Contains(text, "This request has expired and no charge was made.") {
			t.Errorf("the PIN of an expired request gets:\n%s", text)
		}
		time.Sleep(300 * time.Millisecond)
		if n, _ := charges(e.sim, d.phone); n != 0 {
			t.Errorf("ledger: %d charges for an expired request, want none", n)
		}
	})

	// Accessibility basics on each page, at 360 px and desktop width, and
	// the screenshots of docs/screenshots/.
	t.Run("Accessibility", func(t *testing.T) {
		_, _, link := e.pinText(t, 20)
		for _, p := range []struct{ name, url string }{
			{"terms", e.srv.url + "/t/demo"},
			{"donation", link},
		} {
			ctx := tab(t, e.ctx)
			navigate(t, ctx, p.url)
			checkA11y(t, ctx, p.name)
			shot(t, ctx, p.name)
		}
	})

	// AO 2012-17's second flow: a gift started on the web. The form takes
	// the number, the amount and the ticked certification; the PIN comes
	// by text; entered on the page, it completes the gift: one charge.
	t.Run("WebInitiatedDonation", func(t *testing.T) {
		phone := "+13125550299"
		ctx := tab(t, e.ctx)
		if st := navigate(t, ctx, e.srv.url+"/give/demo"); st != 200 {
			t.Fatalf("GET /give/demo: %d", st)
		}
		checkA11y(t, ctx, "give")
		shot(t, ctx, "give")
		resp, err := chromedp.RunResponse(ctx,
			chromedp.SendKeys(chromedp.CSS(`#phone`), phone),
			chromedp.Click(chromedp.CSS(`input[name=amount][value="1500"]`)),
			chromedp.Click(chromedp.CSS(`input[name=certify]`)),
			chromedp.Click(chromedp.CSS(`form button[type=submit]`)),
		)
		if err != nil || resp.Status != 200 {
			t.Fatalf("submit the gift: %v (%+v)", err, resp)
		}
		if !hasForm(t, ctx) {
			t.Fatalf("after the form, no PIN form:\n%s", pageText(t, ctx))
		}
		if n, _ := charges(e.sim, phone); n != 0 {
			t.Fatalf("%d charges before the PIN", n)
		}
		d := &donor{t: t, sim: e.sim, phone: phone, to: "62262"}
		pin := d.next(rePIN)[1]
		if st := submitPIN(t, ctx, pin); st != 200 {
			t.Errorf("POST PIN: %d", st)
		}
		if text := pageText(t, ctx); !strings.Contains(text, "Thank you") {
			t.Errorf("after the PIN the page says:\n%s", text)
		}
		d.next(reReceipt)
		if n, cents := charges(e.sim, phone); n != 1 || cents != 1500 {
			t.Errorf("ledger: %d charges of %d cents, want one of 1500", n, cents)
		}
	})

	// Once the server has stopped, nothing is left to charge: the
	// simulator's ledger holds the charges of the two completed gifts.
	e.srv.stop()
	var n int
	for _, c := range e.sim.Ledger() {
		if c.Kind == sim.KindCharge {
			n++
		}
	}
	if n != 2 {
		t.Errorf("ledger: %d charges in all, want the two of the gifts completed on their pages", n)
	}
}

func mustAtoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// expire moves the expiry of the donation with token into the past, as
// time passing would.
func expire(t *testing.T, dbPath, token string) {
	t.Helper()
	db, err := sql.Open("sqlite", dbPath+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	past := time.Now().Add(-time.Minute).UTC().Format("2006-01-02T15:04:05.000000000Z")
	res, err := db.Exec(`UPDATE donations SET expires_at = ? WHERE token = ?`, past, token)
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		t.Fatalf("expire: %d donations have the token", n)
	}
}

// Viewports: a small phone, and a desktop.
const (
	phoneWidth   = 360
	desktopWidth = 1280
)

// checkA11y checks the page of ctx at 360 px: every visible input has a
// label, nothing scrolls sideways, and every text's colour against its
// background meets WCAG 2 AA contrast (4.5:1, or 3:1 for large text).
func checkA11y(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	do(t, ctx, chromedp.EmulateViewport(phoneWidth, 740))
	unlabelled := read(t, ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll('input,select,textarea')]
		.filter(e => e.type !== 'hidden')
		.filter(e => !(e.labels && [...e.labels].some(l => l.innerText.trim() !== '')) && !e.getAttribute('aria-label'))
		.map(e => e.outerHTML)`))
	if len(unlabelled) > 0 {
		t.Errorf("%s: inputs without a label: %v", name, unlabelled)
	}
	width := read(t, ctx, chromedp.Evaluate[int](`document.documentElement.scrollWidth`))
	if width > phoneWidth {
		t.Errorf("%s: %d px wide at a %d px viewport; it scrolls sideways", name, width, phoneWidth)
	}
	// Every element with its own text: its colour, the first opaque
	// background behind it, its size and weight.
	type styled struct {
		Tag, Text, Color, Background, Size, Weight string
	}
	texts := read(t, ctx, chromedp.Evaluate[[]styled](`(() => {
		const bg = e => {
			for (; e; e = e.parentElement) {
				const c = getComputedStyle(e).backgroundColor;
				if (c && c !== 'transparent' && !/rgba\(.*, 0\)$/.test(c)) return c;
			}
			return 'rgb(255, 255, 255)';
		};
		const out = [];
		for (const e of [document.body, ...document.body.querySelectorAll('*')]) {
			const own = [...e.childNodes].filter(n => n.nodeType === 3).map(n => n.textContent).join('').trim();
			if (!own || e.offsetParent === null && e !== document.body) continue;
			const s = getComputedStyle(e);
			out.push({Tag: e.tagName, Text: own.slice(0, 40), Color: s.color, Background: bg(e), Size: s.fontSize, Weight: s.fontWeight});
		}
		return out;
	})()`))
	if len(texts) == 0 {
		t.Fatalf("%s: no text found", name)
	}
	for _, x := range texts {
		fg, err1 := parseRGB(x.Color)
		bg, err2 := parseRGB(x.Background)
		if err1 != nil || err2 != nil {
			t.Errorf("%s: %s %q: colours %q on %q: %v %v", name, x.Tag, x.Text, x.Color, x.Background, err1, err2)
			continue
		}
		size, _ := strconv.ParseFloat(strings.TrimSuffix(x.Size, "px"), 64)
		weight, _ := strconv.Atoi(x.Weight)
		need := 4.5
		if size >= 24 || size >= 18.66 && weight >= 700 {
			need = 3
		}
		if r := contrast(fg, bg); r < need {
			t.Errorf("%s: %s %q: contrast %.2f:1 of %s on %s, want at least %.1f:1", name, x.Tag, x.Text, r, x.Color, x.Background, need)
		}
	}
}

var reRGB = regexp.MustCompile(`^rgba?\((\d+), (\d+), (\d+)(?:, ([\d.]+))?\)$`)

// parseRGB reads a computed colour, "rgb(r, g, b)" or an opaque "rgba".
func parseRGB(s string) ([3]float64, error) {
	m := reRGB.FindStringSubmatch(s)
	if m == nil || m[4] != "" && m[4] != "1" {
		return [3]float64{}, fmt.Errorf("not an opaque rgb colour: %q", s)
	}
	var c [3]float64
	for i := range c {
		c[i], _ = strconv.ParseFloat(m[i+1], 64)
	}
	return c, nil
}

// contrast is the WCAG 2 contrast ratio of two sRGB colours.
func contrast(a, b [3]float64) float64 {
	lum := func(c [3]float64) float64 {
		var l [3]float64
		for i, v := range c {
			v /= 255
			if v <= 0.04045 {
				l[i] = v / 12.92
			} else {
				l[i] = math.Pow((v+0.055)/1.055, 2.4)
			}
		}
		return 0.2126*l[0] + 0.7152*l[1] + 0.0722*l[2]
	}
	x, y := lum(a), lum(b)
	if x < y {
		x, y = y, x
	}
	return (x + 0.05) / (y + 0.05)
}

// shot keeps screenshots of the page of ctx at 360 px and at desktop width
// in docs/screenshots/NAME-360.png and NAME-1280.png when
// SHORTCODE_UPDATE_SCREENSHOTS=1; otherwise it checks that they are there.
func shot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	for _, w := range []int64{phoneWidth, desktopWidth} {
		file := filepath.Join("..", "..", "docs", "screenshots", fmt.Sprintf("%s-%d.png", name, w))
		if os.Getenv("SHORTCODE_UPDATE_SCREENSHOTS") != "1" {
			if b, err := os.ReadFile(file); err != nil || !bytes.HasPrefix(b, []byte("\x89PNG")) {
				t.Errorf("screenshot %s is missing (SHORTCODE_UPDATE_SCREENSHOTS=1 makes it): %v", file, err)
			}
			continue
		}
		do(t, ctx, chromedp.EmulateViewport(w, 800))
		png := read(t, ctx, chromedp.FullScreenshot(100))
		if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(file, png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
