package sim

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"
	"unicode/utf8"

	"github.com/gorilla/mux"

	"github.com/shortcode/shortcode/carrier/twilio"
)

// The statuses the simulated Messages API gives its messages.
const (
	statusQueued    = "queued"
	statusDelivered = "delivered"
)

func toWire(m Message) twilio.Message {
	return twilio.Message{
		SID:         m.SID,
		AccountSID:  m.AccountSID,
		To:          m.To,
		From:        m.From,
		Body:        m.Body,
		Status:      m.Status,
		Direction:   "outbound-api",
		NumSegments: "1",
		NumMedia:    "0",
		DateCreated: m.Created.UTC().Format(twilio.TimeLayout),
		DateUpdated: m.Updated.UTC().Format(twilio.TimeLayout),
		APIVersion:  "2010-04-01",
		URI:         "/2010-04-01/Accounts/" + m.AccountSID + "/Messages/" + m.SID + ".json",
	}
}

// authorize checks the Basic credentials and the account in the path. When
// it returns false it has answered the request.
func (s *Sim) authorize(w http.ResponseWriter, r *http.Request) bool {
	user, pass, ok := r.BasicAuth()
	if !ok || !equal(user, s.cfg.AccountSID) || !equal(pass, s.cfg.AuthToken) {
		w.Header().Set("WWW-Authenticate", `Basic realm="Twilio API"`)
		twilio.WriteError(w, http.StatusUnauthorized, twilio.CodeAuthenticate, "Authenticate")
		return false
	}
	if mux.Vars(r)["sid"] != s.cfg.AccountSID {
		twilio.WriteError(w, http.StatusNotFound, twilio.CodeNotFound,
			fmt.Sprintf("The requested resource %s was not found", r.URL.Path))
		return false
	}
	return true
}

func equal(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

// serveCreateMessage accepts an MT. The simulated network delivers it at
// once: the answer says "queued", as Twilio's does, and the stored message
// is "delivered" by the time the answer is sent. A StatusCallback, when
// given, is then posted in the background.
func (s *Sim) serveCreateMessage(w http.ResponseWriter, r *http.Request) {
	if !s.authorize(w, r) {
		return
	}
	switch s.refuseMT() {
	case RefusedTooMany:
		twilio.WriteError(w, http.StatusTooManyRequests, twilio.CodeTooManyRequests, "Too Many Requests")
		return
	case RefusedUnavailable:
		http.Error(w, "service unavailable", http.StatusServiceUnavailable)
		return
	case RefusedTimeout:
		s.hangUp(w, r)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxBodyBytes)
	if err := r.ParseForm(); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			twilio.WriteError(w, http.StatusRequestEntityTooLarge, twilio.CodeBadRequest, "Request body too large")
			return
		}
		twilio.WriteError(w, http.StatusBadRequest, twilio.CodeBadRequest, "Malformed form body")
		return
	}
	f := r.PostForm
	to, from, body, callback := f.Get("To"), f.Get("From"), f.Get("Body"), f.Get("StatusCallback")
	switch {
	case to == "":
		twilio.WriteError(w, http.StatusBadRequest, twilio.CodeToRequired, "A 'To' phone number is required.")
		return
	case !e164.MatchString(to):
		// Twilio's text names the number; the client masks it.
		twilio.WriteError(w, http.StatusBadRequest, twilio.CodeInvalidTo, fmt.Sprintf("The 'To' number %s is not a valid phone number.", to))
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
	case callback != "" && !validCallback(callback):
		twilio.WriteError(w, http.StatusBadRequest, twilio.CodeBadCallback, "The StatusCallback URL is not a valid URL.")
		return
	}

	now := s.cfg.Now()
	m := Message{
		SID:            newSID("SM"),
		AccountSID:     s.cfg.AccountSID,
		To:             to,
		From:           from,
		Body:           body,
		Status:         statusQueued,
		StatusCallback: callback,
		Created:        now,
		Updated:        now,
	}
	answer := toWire(m)
	m.Status = statusDelivered
	s.mu.Lock()
	s.messages = append(s.messages, m)
	if callback != "" {
		s.statusCallback(m)
	}
	s.mu.Unlock()
	if d := s.Faults().MessagesLatency; d > 0 {
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return // the client gave up: it never learns the MT was taken
		}
	}
	twilio.WriteJSON(w, http.StatusCreated, answer)
}

func validCallback(raw string) bool {
	u, err := url.Parse(raw)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

// statusCallback posts m's status to its StatusCallback in the background,
// signed over the callback URL, best effort. The caller holds s.mu.
func (s *Sim) statusCallback(m Message) {
	params := url.Values{
		"MessageSid":    {m.SID},
		"SmsSid":        {m.SID},
		"MessageStatus": {m.Status},
		"SmsStatus":     {m.Status},
		"AccountSid":    {m.AccountSID},
		"From":          {m.From},
		"To":            {m.To},
		"ApiVersion":    {"2010-04-01"},
	}
	s.background(func(ctx context.Context) {
		if _, _, err := s.deliver(ctx, m.StatusCallback, m.StatusCallback, params); err != nil {
			s.cfg.Log.Warn("sim: status callback not delivered", "sid", m.SID, "status", m.Status, "err", err)
		}
	})
}

// serveListMessages lists the MTs, newest first, filtered by To and From
// if given, in one page.
func (s *Sim) serveListMessages(w http.ResponseWriter, r *http.Request) {
	if !s.authorize(w, r) {
		return
	}
	from := r.URL.Query().Get("From")
	msgs := s.Messages(r.URL.Query().Get("To"))
	out := make([]twilio.Message, 0, len(msgs))
	for _, m := range msgs {
		if from == "" || m.From == from {
			out = append(out, toWire(m))
		}
	}
	twilio.WriteJSON(w, http.StatusOK, twilio.MessageList{Messages: out, PageSize: len(out), URI: r.URL.RequestURI()})
}

// serveInbox is the phone's own view of the texts it received, newest first
// like Twilio's list. A phone needs no account credentials to read its
// messages, which lets `shortcode text` work with a server's random token.
func (s *Sim) serveInbox(w http.ResponseWriter, r *http.Request) {
	msgs := s.Messages(mux.Vars(r)["e164"])
	out := make([]twilio.Message, 0, len(msgs))
	for _, m := range msgs {
		out = append(out, toWire(m))
	}
	twilio.WriteJSON(w, http.StatusOK, struct {
		Messages []twilio.Message `json:"messages"`
	}{out})
}
