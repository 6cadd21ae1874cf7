package httpserver

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"embed"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"strings"

	"github.com/gorilla/mux"

	"github.com/shortcode/shortcode/compliance"
	"github.com/shortcode/shortcode/donation"
)

// The donor pages (SPEC §4.5) are server-rendered HTML that needs no
// JavaScript: the full terms (/t/{program}) and each donation's page
// (/d/{token}). Every page carries the security headers of pageHeaders; an
// error is answered with a friendly page, with the status statusOf gives
// its kind.

//go:embed pages/*.html
var pageFiles embed.FS

// pageCSS is the pages' one style sheet, inline and allowed by its hash in
// the Content-Security-Policy. Colours meet WCAG AA contrast on white.
const pageCSS = `body{margin:0;font:16px/1.5 system-ui,sans-serif;color:#1a1a1a;background:#fff}
main{max-width:40rem;margin:0 auto;padding:1rem}
h1{font-size:1.5rem;line-height:1.25}h2{font-size:1.2rem}
a{color:#0645ad}code{font-size:.875em;word-break:break-all}
.meta,.small{font-size:.875rem;color:#444}
.note,.notice{padding:.5rem .75rem;border-left:4px solid #8a5a00;background:#fff8e6}
dl{display:grid;grid-template-columns:auto 1fr;gap:.25rem 1rem}dt{font-weight:600}dd{margin:0}
label{display:block;font-weight:600;margin:1rem 0 .25rem}
input[type=text],input[type=tel]{font-size:1.25rem;padding:.5rem;width:100%;max-width:16rem;box-sizing:border-box;border:2px solid #555;border-radius:4px}
fieldset{border:0;padding:0;margin:1rem 0 0}legend{font-weight:600}
label.choice{font-weight:400;margin:.5rem 0}input[type=radio],input[type=checkbox]{width:1.25rem;height:1.25rem;vertical-align:middle;margin-right:.5rem}
button{display:block;margin-top:1rem;font-size:1.1rem;padding:.6rem 1.2rem;border:0;border-radius:4px;background:#0b5cad;color:#fff}
`

var pageCSP = func() string {
	sum := sha256.Sum256([]byte(pageCSS))
	return "default-src 'none'; style-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'; " +
		"img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
}()

var pageTemplates = func() map[string]*template.Template {
	funcs := template.FuncMap{
		"css":    func() template.CSS { return template.CSS(pageCSS) },
		"amount": compliance.FormatAmount,
		"mask":   compliance.MaskPhone,
	}
	out := map[string]*template.Template{}
	for _, name := range []string{"terms", "donation", "error", "give"} {
		out[name] = template.Must(template.New(name).Funcs(funcs).ParseFS(pageFiles, "pages/layout.html", "pages/"+name+".html"))
	}
	return out
}()

// pageHeaders sets the headers every donor page carries.
func pageHeaders(h http.Header) {
	h.Set("Content-Security-Policy", pageCSP)
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
}

// maxPageBody is the largest form a donor page reads.
const maxPageBody = 16 << 10

// routePage adds a public donor page: its errors are answered with a
// friendly HTML page rather than a problem.
func (s *Server) routePage(method, path string, h HandlerFunc) {
	methods := []string{method}
	if method == http.MethodGet {
		methods = append(methods, http.MethodHead)
	}
	s.router.Handle(path, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		pageHeaders(w.Header())
		if err := plainText(r); err != nil {
			s.writePageError(w, r, err)
			return
		}
		if r.Body != nil {
			r.Body = http.MaxBytesReader(w, r.Body, maxPageBody)
		}
		if err := h(w, r); err != nil {
			s.writePageError(w, r, err)
		}
	})).Methods(methods...)
}

// render writes page name with data, or returns the error to answer.
func render(w http.ResponseWriter, status int, name string, data any) error {
	var b bytes.Buffer
	if err := pageTemplates[name].ExecuteTemplate(&b, "layout", data); err != nil {
		return fmt.Errorf("render %s: %w", name, err)
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, err := w.Write(b.Bytes())
	return err
}

// pageError is an error a donor page explains in its own words.
type pageError struct {
	title, message string
	err            error
	// status, when set, is the answer's status rather than that of err's
	// kind.
	status int
}

func (e *pageError) Error() string { return e.err.Error() }
func (e *pageError) Unwrap() error { return e.err }

// writePageError answers err with a friendly page whose status is that of
// its kind (statusOf); details stay in the log.
func (s *Server) writePageError(w http.ResponseWriter, r *http.Request, err error) {
	kind := donation.KindOf(err)
	status, ok := statusOf[kind]
	if !ok {
		status = http.StatusInternalServerError
	}
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		status = http.StatusRequestEntityTooLarge
	}
	data := struct{ Title, Message, RequestID string }{
		Title: "Something went wrong", Message: "Please try again in a minute.", RequestID: requestID(r.Context()),
	}
	switch status {
	case http.StatusNotFound:
		data.Title, data.Message = "Page not found", "This link is not valid. Check that you copied the whole link from the text message."
	case http.StatusBadRequest, http.StatusRequestEntityTooLarge:
		data.Title, data.Message = "That did not work", "The form could not be read. Please go back and try again."
	case http.StatusForbidden:
		data.Title, data.Message = "Please try again", "This form has expired or did not come from our page. Open the link from your text message again."
	}
	var pe *pageError
	if errors.As(err, &pe) {
		data.Title, data.Message = pe.title, pe.message
		if pe.status != 0 {
			status = pe.status
		}
	}
	if status >= 500 {
		s.log().Error("page failed", "method", r.Method, "path", pagePath(r), "request_id", data.RequestID, "err", err)
	} else {
		s.log().Info("page refused", "method", r.Method, "path", pagePath(r), "status", status, "request_id", data.RequestID, "err", err)
	}
	pageHeaders(w.Header())
	if rerr := render(w, status, "error", data); rerr != nil {
		http.Error(w, data.Message, status)
	}
}

// pagePath is the request's path for logs: a donation page's token is a
// secret that opens the page, so only its start is logged.
func pagePath(r *http.Request) string {
	p := maskedPath(r)
	if rest, ok := strings.CutPrefix(p, "/d/"); ok && len(rest) > 4 {
		return "/d/" + rest[:4] + "…"
	}
	return p
}

// Donor is what the donor pages need of the donation service.
type Donor interface {
	Terms(ctx context.Context, programID, version string) (donation.TermsPage, error)
	Page(ctx context.Context, token string) (donation.DonationPage, error)
	EnterPIN(ctx context.Context, token, pin string, c donation.Client) (donation.PINOutcome, donation.DonationPage, error)
	GiveForm(ctx context.Context, programID string) (donation.GiveForm, error)
	Give(ctx context.Context, g donation.Gift) (donation.WebStart, error)
}

// DonorRoutes adds the donor pages: GET /t/{program} (the full terms, ?v=
// for an earlier version, &format=text for its exact bytes), GET and POST
// /d/{token} (the donation's page and its PIN form) and GET and POST
// /give/{program} (a gift started on the web), the POSTs held to rates
// (zero: DefaultPageRates).
func (s *Server) DonorRoutes(d Donor, rates PageRates) {
	lim := newPageLimits(rates)
	s.routePage(http.MethodGet, "/give/{program}", func(w http.ResponseWriter, r *http.Request) error {
		return s.giveForm(w, r, d)
	})
	s.routePage(http.MethodPost, "/give/{program}", func(w http.ResponseWriter, r *http.Request) error {
		return s.give(w, r, d, lim)
	})
	s.routePage(http.MethodGet, "/t/{program}", func(w http.ResponseWriter, r *http.Request) error {
		return s.termsPage(w, r, d)
	})
	s.routePage(http.MethodGet, "/d/{token}", func(w http.ResponseWriter, r *http.Request) error {
		return s.donationPage(w, r, d)
	})
	s.routePage(http.MethodPost, "/d/{token}", func(w http.ResponseWriter, r *http.Request) error {
		return s.enterPIN(w, r, d, lim)
	})
}

// paragraph is a block of the terms: lines of a paragraph, or the items of
// a numbered list.
type paragraph struct {
	Lines []string
	List  bool
}

// paragraphs splits a terms text into blocks at blank lines; a block whose
// lines are all numbered ("1. ...") after a first line is that line and a
// list. The text is shown as it is, word for word.
func paragraphs(text string) []paragraph {
	var out []paragraph
	for _, block := range strings.Split(strings.TrimSpace(text), "\n\n") {
		lines := strings.Split(block, "\n")
		var items []string
		for _, l := range lines[1:] {
			if n, item, ok := strings.Cut(l, ". "); ok && n != "" && strings.Trim(n, "0123456789") == "" {
				items = append(items, item)
			}
		}
		if len(lines) > 1 && len(items) == len(lines)-1 {
			out = append(out, paragraph{Lines: lines[:1]}, paragraph{Lines: items, List: true})
			continue
		}
		out = append(out, paragraph{Lines: lines})
	}
	return out
}

func (s *Server) termsPage(w http.ResponseWriter, r *http.Request, d Donor) error {
	q, err := Query(r, "v", "format")
	if err != nil {
		return err
	}
	switch f := q.Get("format"); f {
	case "", "html", "text":
	default:
		return fmt.Errorf("format %.40q: want html or text: %w", f, donation.ErrInvalid)
	}
	page, err := d.Terms(r.Context(), mux.Vars(r)["program"], q.Get("v"))
	if err != nil {
		return err
	}
	w.Header().Set("X-Terms-Version", page.Version)
	w.Header().Set("X-Terms-SHA256", page.SHA256)
	if q.Get("format") == "text" {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, err := w.Write([]byte(page.Text))
		return err
	}
	ps := paragraphs(page.Text)
	title := ps[0].Lines[0]
	return render(w, http.StatusOK, "terms", struct {
		Title      string
		Terms      donation.TermsPage
		Paragraphs []paragraph
	}{title, page, ps[1:]})
}

// csrfCookie names the cookie that holds a donation page's form token.
const csrfCookie = "shortcode_csrf"

// donationView is the data of a donation's page.
type donationView struct {
	donation.DonationPage
	Title         string
	Message       string
	CSRF          string
	TermsPath     string
	Certification []paragraph
}

func (s *Server) view(w http.ResponseWriter, r *http.Request, page donation.DonationPage, message string) donationView {
	v := donationView{
		DonationPage: page, Title: "Your gift to " + page.Program.Committee.DisplayName, Message: message,
		TermsPath: "/t/" + page.Program.ID + "?v=" + page.Terms.Version,
	}
	// The certification and who may not give: the terms from their
	// "Certification." paragraph up to "Limits.".
	in := false
	for _, p := range paragraphs(page.Terms.Text) {
		in = (in || strings.HasPrefix(p.Lines[0], "Certification.")) && !strings.HasPrefix(p.Lines[0], "Limits.")
		if in {
			v.Certification = append(v.Certification, p)
		}
	}
	if page.Waiting {
		v.CSRF = csrfToken(w, r)
	}
	return v
}

// csrfToken returns the form token of the page r asks for, and sets its
// cookie. Double submit: the form carries the value of a SameSite cookie
// that only this page's path receives; a form posted from another site has
// neither.
func csrfToken(w http.ResponseWriter, r *http.Request) string {
	var tok string
	if c, err := r.Cookie(csrfCookie); err == nil && len(c.Value) == 22 {
		tok = c.Value // one per page and browser: a second tab's form still works
	} else {
		var b [16]byte
		rand.Read(b[:])
		tok = base64.RawURLEncoding.EncodeToString(b[:])
	}
	http.SetCookie(w, &http.Cookie{
		Name: csrfCookie, Value: tok, Path: r.URL.Path, HttpOnly: true, Secure: r.TLS != nil,
		SameSite: http.SameSiteStrictMode, MaxAge: 3600,
	})
	return tok
}

// checkCSRF refuses a parsed form whose token is not its cookie's.
func checkCSRF(r *http.Request) error {
	c, err := r.Cookie(csrfCookie)
	form := r.PostForm.Get("csrf")
	if err != nil || form == "" || subtle.ConstantTimeCompare([]byte(c.Value), []byte(form)) != 1 {
		return fmt.Errorf("form without its page's token: %w", donation.ErrForbidden)
	}
	return nil
}

// outcomeMessage says what became of a PIN, or why a page takes none.
var outcomeMessage = map[donation.PINOutcome]string{
	donation.PINAccepted: "Thank you! Your gift is being charged to your mobile account. We will text you a receipt.",
	donation.PINWrong:    "That PIN is not right. No charge was made. Check the PIN in our text message and try again.",
	donation.PINLocked:   "Too many wrong PINs, so this gift was cancelled and no charge was made. Text the keyword again to start over.",
	donation.PINUsed:     "This gift has already been confirmed; nothing more will be charged. We text you a receipt once it is charged.",
	donation.PINExpired:  "This request has expired and no charge was made. Text the keyword again to start over.",
	donation.PINClosed:   "This request has ended and no charge was made. Text the keyword again to start over.",
}

func (s *Server) donationPage(w http.ResponseWriter, r *http.Request, d Donor) error {
	page, err := d.Page(r.Context(), mux.Vars(r)["token"])
	if err != nil {
		return notFoundPage(err)
	}
	return render(w, http.StatusOK, "donation", s.view(w, r, page, outcomeMessage[page.Outcome]))
}

func notFoundPage(err error) error {
	if donation.KindOf(err) == donation.NotFound {
		return &pageError{title: "Link not found", message: "This donation link is not valid. Check that you copied the whole link from the text message; no charge was made.", err: err}
	}
	return err
}

func (s *Server) enterPIN(w http.ResponseWriter, r *http.Request, d Donor, lim *pageLimits) error {
	client := clientOf(r)
	if !lim.pinIP.allow(client.IP) {
		return tooMany(w, "PIN from "+client.IP)
	}
	if err := r.ParseForm(); err != nil {
		return fmt.Errorf("PIN form: %w: %w", donation.ErrInvalid, err)
	}
	if err := checkCSRF(r); err != nil {
		return err
	}
	token := mux.Vars(r)["token"]
	page, err := d.Page(r.Context(), token)
	if err != nil {
		return notFoundPage(err)
	}
	if !lim.pinPhone.allow(page.Donation.Phone) {
		return tooMany(w, "PIN for "+compliance.MaskPhone(page.Donation.Phone))
	}
	out, page, err := d.EnterPIN(r.Context(), token, strings.TrimSpace(r.PostForm.Get("pin")), client)
	if err != nil {
		return notFoundPage(err)
	}
	v := s.view(w, r, page, outcomeMessage[out])
	if out == donation.PINAccepted {
		v.Title = "Thank you"
	}
	return render(w, http.StatusOK, "donation", v)
}
