package httpserver

import (
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/mux"
	"golang.org/x/time/rate"

	"github.com/shortcode/shortcode/compliance"
	"github.com/shortcode/shortcode/donation"
)

// A Rate is a token bucket: Burst requests at once, then one every Every.
type Rate struct {
	Every time.Duration
	Burst int
}

// PageRates bound the donor pages' forms, per phone number and per client
// IP address (SPEC §11): gifts started on /give, each of which texts a
// PIN, and PINs entered on /d. Zero fields take DefaultPageRates'.
type PageRates struct {
	GivePhone, GiveIP Rate
	PINPhone, PINIP   Rate
}

// DefaultPageRates: a number gets at most 3 PIN texts from the page, then
// one every 5 minutes; an address starts at most 10 gifts, then one a
// minute; PINs, which the lockout also bounds, 10 at once then one every
// 6 seconds per number and per address.
var DefaultPageRates = PageRates{
	GivePhone: Rate{Every: 5 * time.Minute, Burst: 3},
	GiveIP:    Rate{Every: time.Minute, Burst: 10},
	PINPhone:  Rate{Every: 6 * time.Second, Burst: 10},
	PINIP:     Rate{Every: 6 * time.Second, Burst: 10},
}

func (r Rate) orDefault(d Rate) Rate {
	if r.Every <= 0 || r.Burst <= 0 {
		return d
	}
	return r
}

// pageLimits are the limiters of the donor pages' forms.
type pageLimits struct {
	givePhone, giveIP, pinPhone, pinIP *limiter
}

func newPageLimits(r PageRates) *pageLimits {
	d := DefaultPageRates
	return &pageLimits{
		givePhone: newLimiter(r.GivePhone.orDefault(d.GivePhone)),
		giveIP:    newLimiter(r.GiveIP.orDefault(d.GiveIP)),
		pinPhone:  newLimiter(r.PINPhone.orDefault(d.PINPhone)),
		pinIP:     newLimiter(r.PINIP.orDefault(d.PINIP)),
	}
}

// limiter holds a rate.Limiter per key. A key's limiter is dropped once it
// has been idle long enough to be full again, so the map holds only the
// keys seen lately.
type limiter struct {
	rate  Rate
	mu    sync.Mutex
	keys  map[string]*keyLimiter
	swept time.Time
}

type keyLimiter struct {
	l    *rate.Limiter
	seen time.Time
}

func newLimiter(r Rate) *limiter {
	return &limiter{rate: r, keys: map[string]*keyLimiter{}}
}

// allow reports whether a request for key may go on now.
func (l *limiter) allow(key string) bool {
	now := time.Now()
	full := l.rate.Every * time.Duration(l.rate.Burst)
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.swept) > full {
		for k, kl := range l.keys {
			if now.Sub(kl.seen) > full {
				delete(l.keys, k)
			}
		}
		l.swept = now
	}
	kl, ok := l.keys[key]
	if !ok {
		kl = &keyLimiter{l: rate.NewLimiter(rate.Every(l.rate.Every), l.rate.Burst)}
		l.keys[key] = kl
	}
	kl.seen = now
	return kl.l.AllowN(now, 1)
}

// clientOf is the browser a request came from: the peer's address (the
// server must face donors directly, or the proxy's address is recorded)
// and its user agent, cut to what a record holds.
func clientOf(r *http.Request) donation.Client {
	ip, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		ip = r.RemoteAddr
	}
	ua := r.UserAgent()
	if len(ua) > 256 {
		ua = ua[:256]
	}
	// Stored as text: valid UTF-8 without NUL, as PostgreSQL requires.
	ua = strings.ReplaceAll(strings.ToValidUTF8(ua, "\uFFFD"), "\x00", "")
	return donation.Client{IP: ip, UserAgent: ua}
}

// tooMany is the answer to a form over its rate.
func tooMany(w http.ResponseWriter, what string) error {
	w.Header().Set("Retry-After", "60")
	return &pageError{
		title: "Please wait a moment", message: "Too many tries in a short time. No charge was made. Please wait a few minutes and try again.",
		err: fmt.Errorf("%s: over the rate limit", what), status: http.StatusTooManyRequests,
	}
}

// giveView is the data of a /give page.
type giveView struct {
	donation.GiveForm
	Title         string
	Message       string
	CSRF          string
	TermsPath     string
	Certification []paragraph
	// Phone and Amount are what the donor entered, shown again after a
	// refusal.
	Phone  string
	Amount int64
}

func (s *Server) giveView(w http.ResponseWriter, r *http.Request, f donation.GiveForm) giveView {
	v := giveView{
		GiveForm: f, Title: "Give to " + f.Program.Committee.DisplayName + " by text",
		TermsPath: "/t/" + f.Program.ID + "?v=" + f.Terms.Version, Certification: paragraphs(f.Certification),
	}
	if f.Program.TakesDonations() {
		v.CSRF = csrfToken(w, r)
	} else {
		v.Message = giveMessage[donation.WebClosed]
	}
	return v
}

func (s *Server) giveForm(w http.ResponseWriter, r *http.Request, d Donor) error {
	f, err := d.GiveForm(r.Context(), mux.Vars(r)["program"])
	if err != nil {
		return err
	}
	return render(w, http.StatusOK, "give", s.giveView(w, r, f))
}

// giveMessage says why a gift started on the page went no further; each
// such answer charges nothing and texts nothing.
var giveMessage = map[donation.WebOutcome]string{
	donation.WebUncertified: "Please read the certification and tick the box to confirm it. Nothing was sent. No charge was made.",
	donation.WebBadNumber:   "Please enter a 10-digit US mobile number. Nothing was sent. No charge was made.",
	donation.WebBadAmount:   "Please choose one of the amounts. Nothing was sent. No charge was made.",
	donation.WebRefused:     "Sorry, this number cannot give by text. Prepaid, business and landline numbers, and numbers outside the US, cannot be billed. No charge was made.",
	donation.WebOptedOut:    "This number has stopped our texts, so we cannot text it a PIN. To give, text START and then the keyword to our short code. No charge was made.",
	donation.WebBusy:        "A gift from this number is being charged right now. Please try again in a few minutes. No charge was made.",
	donation.WebClosed:      "This program is not taking gifts right now. No charge was made.",
}

// giveStatus is the status of each refusal's page.
var giveStatus = map[donation.WebOutcome]int{
	donation.WebUncertified: http.StatusUnprocessableEntity,
	donation.WebBadNumber:   http.StatusUnprocessableEntity,
	donation.WebBadAmount:   http.StatusUnprocessableEntity,
	donation.WebRefused:     http.StatusForbidden,
	donation.WebOverLimit:   http.StatusForbidden,
	donation.WebOptedOut:    http.StatusForbidden,
	donation.WebBusy:        http.StatusConflict,
	donation.WebClosed:      http.StatusForbidden,
}

func (s *Server) give(w http.ResponseWriter, r *http.Request, d Donor, lim *pageLimits) error {
	client := clientOf(r)
	if !lim.giveIP.allow(client.IP) {
		return tooMany(w, "gift on the web from "+client.IP)
	}
	if err := r.ParseForm(); err != nil {
		return fmt.Errorf("gift form: %w: %w", donation.ErrInvalid, err)
	}
	if err := checkCSRF(r); err != nil {
		return err
	}
	programID := mux.Vars(r)["program"]
	f, err := d.GiveForm(r.Context(), programID)
	if err != nil {
		return err
	}
	// The amount is sent in cents, one of the price points' radio buttons.
	amount, err := strconv.ParseInt(r.PostForm.Get("amount"), 10, 64)
	if err != nil {
		amount = -1
	}
	g := donation.Gift{
		ProgramID: programID, Phone: r.PostForm.Get("phone"), Amount: amount,
		Certified: r.PostForm.Get("certify") == "yes", Client: client,
	}
	if phone, err := compliance.ParsePhone(g.Phone); err == nil && !lim.givePhone.allow(phone) {
		return tooMany(w, "gift on the web for "+compliance.MaskPhone(phone))
	}
	start, err := d.Give(r.Context(), g)
	if err != nil {
		return err
	}
	if start.Outcome == donation.WebPINSent {
		http.Redirect(w, r, "/d/"+start.Token, http.StatusSeeOther)
		return nil
	}
	v := s.giveView(w, r, f)
	v.Phone, v.Amount = g.Phone, amount
	v.Message = giveMessage[start.Outcome]
	if start.Outcome == donation.WebOverLimit {
		v.Message = "That gift would pass the limit of what this number may give by text. No charge was made."
		if start.Remaining > 0 {
			v.Message = "That gift would pass the limit of what this number may give by text: you may still give $" +
				compliance.FormatAmount(start.Remaining) + ". No charge was made."
		}
	}
	status := giveStatus[start.Outcome]
	if status == 0 {
		status = http.StatusUnprocessableEntity
	}
	return render(w, status, "give", v)
}
