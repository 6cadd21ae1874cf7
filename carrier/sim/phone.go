package sim

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gorilla/mux"

	"github.com/shortcode/shortcode/carrier/twilio"
	"github.com/shortcode/shortcode/compliance"
)

// PhoneMO is a message a simulated phone sends.
type PhoneMO struct {
	From string // the phone, E.164
	To   string // the short code
	Body string // may be empty
	// Duplicate delivers the MO a second time, identical (same
	// MessageSid and signature), after the first delivery succeeded. The
	// simulator also does so by chance, at Faults.DuplicateRate.
	Duplicate bool
}

// Delivery is what became of a PhoneMO.
type Delivery struct {
	SID string // the MessageSid the webhook was given
	// Status is the webhook's last answer to the (first) delivery; 0 if
	// it never answered.
	Status int
	// Attempts counts the posts of the first delivery.
	Attempts int
	// DuplicateStatus is the webhook's answer to the second delivery; 0
	// when the MO was delivered once.
	DuplicateStatus int
}

// ErrUndelivered is wrapped by SendMO's error when the webhook never
// accepted an MO: it answered 5xx to every attempt or could not be reached.
var ErrUndelivered = errors.New("sim: MO not delivered")

// SendMO delivers mo to the webhook as the gateway would: signed with the
// auth token over SignURL, posted to WebhookURL, and posted again after a
// 5xx answer or a connection error, up to Config.Attempts times with
// doubling backoff. A 4xx answer is final and not an error: it is reported
// in Delivery.Status. The MO is delivered a second time when mo.Duplicate
// is set, or by chance at Faults.DuplicateRate.
func (s *Sim) SendMO(ctx context.Context, mo PhoneMO) (Delivery, error) {
	switch {
	case !e164.MatchString(mo.From):
		return Delivery{}, fmt.Errorf("sim: send MO: From %q is not an E.164 number", compliance.MaskPhone(mo.From))
	case mo.To == "":
		return Delivery{}, errors.New("sim: send MO: To is required")
	case s.cfg.WebhookURL == "":
		return Delivery{}, errors.New("sim: send MO: no webhook URL configured")
	}
	d := Delivery{SID: newSID("SM")}
	params := url.Values{
		"MessageSid":    {d.SID},
		"SmsSid":        {d.SID},
		"SmsMessageSid": {d.SID},
		"AccountSid":    {s.cfg.AccountSID},
		"From":          {mo.From},
		"To":            {mo.To},
		"Body":          {mo.Body},
		"NumMedia":      {"0"},
		"NumSegments":   {"1"},
		"SmsStatus":     {"received"},
		"ApiVersion":    {"2010-04-01"},
	}
	var err error
	d.Status, d.Attempts, err = s.deliver(ctx, s.cfg.WebhookURL, s.cfg.SignURL, params)
	if err != nil {
		return d, err
	}
	if mo.Duplicate || s.duplicate() {
		d.DuplicateStatus, _, err = s.deliver(ctx, s.cfg.WebhookURL, s.cfg.SignURL, params)
		if err != nil {
			return d, fmt.Errorf("sim: duplicate delivery: %w", err)
		}
	}
	return d, nil
}

// deliver posts params to target, signed over signURL, until the answer is
// not a 5xx or the attempts run out. It returns the last status code (0 if
// there was no answer) and the number of attempts.
func (s *Sim) deliver(ctx context.Context, target, signURL string, params url.Values) (code, attempts int, err error) {
	sig := twilio.Signature(s.cfg.AuthToken, signURL, params)
	body := params.Encode()
	wait := s.cfg.Backoff
	var last error
	for attempts = 1; ; attempts++ {
		code, err = s.post(ctx, target, sig, body)
		switch {
		case err == nil && code < 500:
			return code, attempts, nil
		case err == nil:
			last = fmt.Errorf("webhook answered %d", code)
		default:
			last = err
		}
		if attempts >= s.cfg.Attempts {
			break
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return code, attempts, fmt.Errorf("%w to %s: %w (after %v)", ErrUndelivered, target, ctx.Err(), last)
		case <-t.C:
		}
		wait *= 2
	}
	return code, attempts, fmt.Errorf("%w to %s after %d attempts: %w", ErrUndelivered, target, attempts, last)
}

// post makes one signed form POST and returns the status code.
func (s *Sim) post(ctx context.Context, target, sig, body string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, strings.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set(twilio.SignatureHeader, sig)
	req.Header.Set("User-Agent", "TwilioProxy/1.1")
	resp, err := s.cfg.HTTP.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, maxBodyBytes))
	return resp.StatusCode, nil
}

// phoneAnswer is the answer to a phone's POST.
type phoneAnswer struct {
	SID             string `json:"sid,omitempty"`
	WebhookStatus   int    `json:"webhook_status"`
	Attempts        int    `json:"attempts,omitempty"`
	DuplicateStatus int    `json:"duplicate_status,omitempty"`
	Error           string `json:"error,omitempty"`
}

// servePhone sends an MO from the phone in the path. It answers with the
// webhook's status code (2xx or 4xx) and {sid, webhook_status}, or 502 when
// the webhook never accepted the MO.
func (s *Sim) servePhone(w http.ResponseWriter, r *http.Request) {
	from := mux.Vars(r)["e164"]
	if !e164.MatchString(from) {
		twilio.WriteJSON(w, http.StatusBadRequest, phoneAnswer{Error: fmt.Sprintf("%q is not an E.164 phone number", compliance.MaskPhone(from))})
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxBodyBytes)
	if err := r.ParseForm(); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			twilio.WriteJSON(w, http.StatusRequestEntityTooLarge, phoneAnswer{Error: "request body too large"})
			return
		}
		twilio.WriteJSON(w, http.StatusBadRequest, phoneAnswer{Error: "malformed form"})
		return
	}
	mo := PhoneMO{
		From:      from,
		To:        r.PostForm.Get("To"),
		Body:      r.PostForm.Get("Body"),
		Duplicate: r.Header.Get("X-Sim-Duplicate") == "1" || r.PostForm.Get("SimDuplicate") == "1",
	}
	if mo.To == "" {
		twilio.WriteJSON(w, http.StatusBadRequest, phoneAnswer{Error: "To is required"})
		return
	}
	d, err := s.SendMO(r.Context(), mo)
	answer := phoneAnswer{SID: d.SID, WebhookStatus: d.Status, Attempts: d.Attempts, DuplicateStatus: d.DuplicateStatus}
	if err != nil {
		s.cfg.Log.Warn("sim: MO not delivered", "sid", d.SID, "webhook_status", d.Status, "err", err)
		answer.Error = err.Error()
		twilio.WriteJSON(w, http.StatusBadGateway, answer)
		return
	}
	code := d.Status
	if code < 200 || code >= 500 || (code >= 300 && code < 400) {
		code = http.StatusBadGateway
	}
	twilio.WriteJSON(w, code, answer)
}
