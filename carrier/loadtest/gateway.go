package loadtest

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/shortcode/shortcode/carrier/twilio"
)

// MessagesPath is the route of the Twilio Messages API the gateway serves.
const MessagesPath = "/2010-04-01/Accounts/{sid}/Messages.json"

// maxBody bounds the bodies the gateway reads.
const maxBody = 64 << 10

// e164 is the shape of a phone number.
var e164 = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)

// Message is an MT the gateway took.
type Message struct {
	SID  string
	To   string
	From string
	Body string
	At   time.Time // when the gateway took it
}

// Gateway is the gateway's side of the Twilio Messages API that serve
// sends its MTs through (--twilio-api-url): POST takes an MT and answers
// 201 with a fresh SM sid, GET lists the MTs newest first with Twilio's
// filters, as serve's client reads them to resolve a send whose outcome it
// did not learn. Both need HTTP Basic auth with the account sid and the
// auth token. Donors wait for their texts with Next. Its methods are safe
// for concurrent use.
type Gateway struct {
	accountSID, authToken string
	now                   func() time.Time
	mux                   *http.ServeMux

	mu    sync.Mutex
	all   []Message         // in the order taken
	byTo  map[string]*inbox // by the MT's To
	taken int
}

// inbox is one number's MTs and the wake-up of whoever waits for them.
type inbox struct {
	msgs []int // indexes in Gateway.all, in the order taken
	wake chan struct{}
}

// NewGateway returns a gateway for the account sid with the auth token;
// now tells the time (nil: time.Now).
func NewGateway(accountSID, authToken string, now func() time.Time) *Gateway {
	if now == nil {
		now = time.Now
	}
	g := &Gateway{accountSID: accountSID, authToken: authToken, now: now, byTo: map[string]*inbox{}}
	g.mux = http.NewServeMux()
	g.mux.HandleFunc("POST "+MessagesPath, g.create)
	g.mux.HandleFunc("GET "+MessagesPath, g.list)
	return g
}

// ServeHTTP serves the Messages API.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) { g.mux.ServeHTTP(w, r) }

// Taken tells how many MTs the gateway took.
func (g *Gateway) Taken() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.taken
}

// inbox returns to's inbox, made if new. The caller holds g.mu.
func (g *Gateway) inbox(to string) *inbox {
	in, ok := g.byTo[to]
	if !ok {
		in = &inbox{wake: make(chan struct{}, 1)}
		g.byTo[to] = in
	}
	return in
}

// Next waits for the MT to phone after the first seen ones and returns it,
// or ctx's error.
func (g *Gateway) Next(ctx context.Context, phone string, seen int) (Message, error) {
	for {
		g.mu.Lock()
		in := g.inbox(phone)
		if len(in.msgs) > seen {
			m := g.all[in.msgs[seen]]
			g.mu.Unlock()
			return m, nil
		}
		g.mu.Unlock()
		select {
		case <-in.wake:
		case <-ctx.Done():
			return Message{}, ctx.Err()
		}
	}
}

// Received returns the MTs to phone, in the order taken.
func (g *Gateway) Received(phone string) []Message {
	g.mu.Lock()
	defer g.mu.Unlock()
	var out []Message
	if in, ok := g.byTo[phone]; ok {
		for _, i := range in.msgs {
			out = append(out, g.all[i])
		}
	}
	return out
}

// authorized checks the Basic credentials and the account in the path;
// when it returns false it has answered.
func (g *Gateway) authorized(w http.ResponseWriter, r *http.Request) bool {
	user, pass, ok := r.BasicAuth()
	if !ok || !same(user, g.accountSID) || !same(pass, g.authToken) {
		w.Header().Set("WWW-Authenticate", `Basic realm="Twilio API"`)
		twilio.WriteError(w, http.StatusUnauthorized, twilio.CodeAuthenticate, "Authenticate")
		return false
	}
	if r.PathValue("sid") != g.accountSID {
		twilio.WriteError(w, http.StatusNotFound, twilio.CodeNotFound, fmt.Sprintf("The requested resource %s was not found", r.URL.Path))
		return false
	}
	return true
}

func same(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }

// wire is m as the API shows it, in status.
func (g *Gateway) wire(m Message, status string) twilio.Message {
	at := m.At.UTC().Format(twilio.TimeLayout)
	return twilio.Message{SID: m.SID, AccountSID: g.accountSID, To: m.To, From: m.From, Body: m.Body, Status: status,
		Direction: "outbound-api", NumSegments: "1", NumMedia: "0", DateCreated: at, DateUpdated: at, DateSent: &at,
		APIVersion: "2010-04-01", URI: "/2010-04-01/Accounts/" + g.accountSID + "/Messages/" + m.SID + ".json"}
}

// create takes an MT: 201 with the message, "queued" as Twilio answers;
// the simulated network delivers it at once.
func (g *Gateway) create(w http.ResponseWriter, r *http.Request) {
	if !g.authorized(w, r) {
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	if err := r.ParseForm(); err != nil {
		twilio.WriteError(w, http.StatusBadRequest, twilio.CodeBadRequest, "Malformed form body")
		return
	}
	f := r.PostForm
	to, from, body := f.Get("To"), f.Get("From"), f.Get("Body")
	switch {
	case to == "":
		twilio.WriteError(w, http.StatusBadRequest, twilio.CodeToRequired, "A 'To' phone number is required.")
		return
	case !e164.MatchString(to):
		twilio.WriteError(w, http.StatusBadRequest, twilio.CodeInvalidTo, "The 'To' number is not a valid phone number.")
		return
	case from == "":
		twilio.WriteError(w, http.StatusBadRequest, twilio.CodeFromRequired, "A 'From' phone number is required.")
		return
	case body == "":
		twilio.WriteError(w, http.StatusBadRequest, twilio.CodeBodyRequired, "Message body is required.")
		return
	case !utf8.ValidString(body) || utf8.RuneCountInString(body) > twilio.MaxBodyCharacters:
		twilio.WriteError(w, http.StatusBadRequest, twilio.CodeBodyTooLong, "The concatenated message body exceeds the 1600 character limit.")
		return
	}
	m := Message{SID: newSID("SM"), To: to, From: from, Body: body, At: g.now()}
	g.mu.Lock()
	g.all = append(g.all, m)
	in := g.inbox(to)
	in.msgs = append(in.msgs, len(g.all)-1)
	g.taken++
	g.mu.Unlock()
	select {
	case in.wake <- struct{}{}:
	default: // a wake-up is pending already
	}
	twilio.WriteJSON(w, http.StatusCreated, g.wire(m, "queued"))
}

// Page sizes of the list, as Twilio's.
const (
	defaultPageSize = 50
	maxPageSize     = 1000
)

// list answers the MTs newest first, filtered as Twilio filters: To, From,
// DateSent (a day, YYYY-MM-DD), DateSent< and DateSent> (days, both
// included, as Twilio reads them), in pages of PageSize (at most 1000)
// linked by next_page_uri.
func (g *Gateway) list(w http.ResponseWriter, r *http.Request) {
	if !g.authorized(w, r) {
		return
	}
	q := r.URL.Query()
	size, page := defaultPageSize, 0
	if s := q.Get("PageSize"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			twilio.WriteError(w, http.StatusBadRequest, twilio.CodeBadRequest, "PageSize must be a positive number")
			return
		}
		size = min(n, maxPageSize)
	}
	if s := q.Get("Page"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			twilio.WriteError(w, http.StatusBadRequest, twilio.CodeBadRequest, "Page must be a number")
			return
		}
		page = n
	}
	var on, after, before time.Time
	for _, d := range []struct {
		name string
		t    *time.Time
	}{{"DateSent", &on}, {"DateSent>", &after}, {"DateSent<", &before}} {
		if s := q.Get(d.name); s != "" {
			t, err := time.Parse(time.DateOnly, s)
			if err != nil {
				twilio.WriteError(w, http.StatusBadRequest, twilio.CodeBadRequest, d.name+" must be a date, YYYY-MM-DD")
				return
			}
			*d.t = t
		}
	}
	to, from := q.Get("To"), q.Get("From")
	keep := func(m Message) bool {
		day := m.At.UTC().Truncate(24 * time.Hour)
		return (from == "" || m.From == from) &&
			(on.IsZero() || day.Equal(on)) &&
			(after.IsZero() || !day.Before(after)) &&
			(before.IsZero() || !day.After(before))
	}

	g.mu.Lock()
	var matched []Message
	if to != "" {
		if in, ok := g.byTo[to]; ok {
			for i := len(in.msgs) - 1; i >= 0; i-- {
				if m := g.all[in.msgs[i]]; keep(m) {
					matched = append(matched, m)
				}
			}
		}
	} else {
		for i := len(g.all) - 1; i >= 0; i-- {
			if m := g.all[i]; keep(m) {
				matched = append(matched, m)
			}
		}
	}
	g.mu.Unlock()

	start := min(page*size, len(matched))
	end := min(start+size, len(matched))
	out := make([]twilio.Message, 0, end-start)
	for _, m := range matched[start:end] {
		out = append(out, g.wire(m, "delivered"))
	}
	var next *string
	if end < len(matched) {
		nq := url.Values{}
		for k, v := range q {
			nq[k] = v
		}
		nq.Set("Page", strconv.Itoa(page+1))
		nq.Set("PageSize", strconv.Itoa(size))
		s := r.URL.Path + "?" + nq.Encode()
		next = &s
	}
	twilio.WriteJSON(w, http.StatusOK, twilio.MessageList{Messages: out, Page: page, PageSize: size,
		URI: r.URL.RequestURI(), NextPageURI: next})
}

// newSID returns prefix and 32 random hex digits, the shape of a Twilio id.
func newSID(prefix string) string {
	var b [16]byte
	rand.Read(b[:]) // never fails (crypto/rand)
	return prefix + hex.EncodeToString(b[:])
}
