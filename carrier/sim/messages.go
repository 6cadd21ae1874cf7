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
)

// Twilio error codes the simulated Messages API answers.
const (
	codeAuthenticate   = 20003
	codeNotFound       = 20404
	codeBadRequest     = 21100 // our pick for an unreadable form
	codeInvalidTo      = 21211
	codeBodyRequired   = 21602
	codeFromRequired   = 21603
	codeToRequired     = 21604
	codeBadCallback    = 21609
	codeBodyTooLong    = 21617
	maxBodyCharacters  = 1600
	statusQueued       = "queued"
	statusDelivered    = "delivered"
	twilioTimeLayout   = time.RFC1123Z // "Mon, 02 Jan 2006 15:04:05 -0700"
	twilioErrorDocsURL = "https://www.twilio.com/docs/errors/"
)

// apiError is the Twilio REST API's error answer.
type apiError struct {
	Code     int    `json:"code"`
	Message  string `json:"message"`
	MoreInfo string `json:"more_info"`
	Status   int    `json:"status"`
}

func writeAPIError(w http.ResponseWriter, status, code int, msg string) {
	writeJSON(w, status, apiError{Code: code, Message: msg, MoreInfo: fmt.Sprintf("%s%d", twilioErrorDocsURL, code), Status: status})
}

// wireMessage is a message resource as the Twilio API shows it.
type wireMessage struct {
	SID          string  `json:"sid"`
	AccountSID   string  `json:"account_sid"`
	To           string  `json:"to"`
	From         string  `json:"from"`
	Body         string  `json:"body"`
	Status       string  `json:"status"`
	Direction    string  `json:"direction"`
	NumSegments  string  `json:"num_segments"`
	NumMedia     string  `json:"num_media"`
	DateCreated  string  `json:"date_created"`
	DateUpdated  string  `json:"date_updated"`
	ErrorCode    *int    `json:"error_code"`
	ErrorMessage *string `json:"error_message"`
	APIVersion   string  `json:"api_version"`
	URI          string  `json:"uri"`
}

func toWire(m Message) wireMessage {
	return wireMessage{
		SID:         m.SID,
		AccountSID:  m.AccountSID,
		To:          m.To,
		From:        m.From,
		Body:        m.Body,
		Status:      m.Status,
		Direction:   "outbound-api",
		NumSegments: "1",
		NumMedia:    "0",
		DateCreated: m.Created.UTC().Format(twilioTimeLayout),
		DateUpdated: m.Updated.UTC().Format(twilioTimeLayout),
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
		writeAPIError(w, http.StatusUnauthorized, codeAuthenticate, "Authenticate")
		return false
	}
	if mux.Vars(r)["sid"] != s.cfg.AccountSID {
		writeAPIError(w, http.StatusNotFound, codeNotFound,
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
	r.Body = http.MaxBytesReader(w, r.Body, maxBodyBytes)
	if err := r.ParseForm(); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeAPIError(w, http.StatusRequestEntityTooLarge, codeBadRequest, "Request body too large")
			return
		}
		writeAPIError(w, http.StatusBadRequest, codeBadRequest, "Malformed form body")
		return
	}
	f := r.PostForm
	to, from, body, callback := f.Get("To"), f.Get("From"), f.Get("Body"), f.Get("StatusCallback")
	switch {
	case to == "":
		writeAPIError(w, http.StatusBadRequest, codeToRequired, "A 'To' phone number is required.")
		return
	case !e164.MatchString(to):
		// Twilio's text names the number; the client masks it.
		writeAPIError(w, http.StatusBadRequest, codeInvalidTo, fmt.Sprintf("The 'To' number %s is not a valid phone number.", to))
		return
	case from == "":
		writeAPIError(w, http.StatusBadRequest, codeFromRequired, "A 'From' phone number is required.")
		return
	case body == "":
		writeAPIError(w, http.StatusBadRequest, codeBodyRequired, "Message body is required.")
		return
	case !utf8.ValidString(body) || utf8.RuneCountInString(body) > maxBodyCharacters:
		writeAPIError(w, http.StatusBadRequest, codeBodyTooLong, "The concatenated message body exceeds the 1600 character limit.")
		return
	case callback != "" && !validCallback(callback):
		writeAPIError(w, http.StatusBadRequest, codeBadCallback, "The StatusCallback URL is not a valid URL.")
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
	writeJSON(w, http.StatusCreated, answer)
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
	out := make([]wireMessage, 0, len(msgs))
	for _, m := range msgs {
		if from == "" || m.From == from {
			out = append(out, toWire(m))
		}
	}
	writeJSON(w, http.StatusOK, struct {
		Messages []wireMessage `json:"messages"`
		Page     int           `json:"page"`
		PageSize int           `json:"page_size"`
		URI      string        `json:"uri"`
	}{out, 0, len(out), r.URL.RequestURI()})
}

// serveInbox is the phone's own view of the texts it received, newest first
// like Twilio's list. A phone needs no account credentials to read its
// messages, which lets `shortcode text` work with a server's random token.
func (s *Sim) serveInbox(w http.ResponseWriter, r *http.Request) {
	msgs := s.Messages(mux.Vars(r)["e164"])
	out := make([]wireMessage, 0, len(msgs))
	for _, m := range msgs {
		out = append(out, toWire(m))
	}
	writeJSON(w, http.StatusOK, struct {
		Messages []wireMessage `json:"messages"`
	}{out})
}
