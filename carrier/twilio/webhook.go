package twilio

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/shortcode/shortcode/compliance"
	"github.com/shortcode/shortcode/donation"
	"github.com/shortcode/shortcode/donation/httpserver"
)

// Gateway is the name of this gateway in donation.MO.Gateway.
const Gateway = "twilio"

// Paths of the webhook endpoints, relative to the public URL.
const (
	SMSPath    = "/gateways/twilio/sms"
	StatusPath = "/gateways/twilio/status"
)

// MaxBodyBytes is the largest request body the webhook reads. A Twilio
// message body is at most 1600 characters, so a legitimate form is far
// smaller.
const MaxBodyBytes = 64 << 10

// EmptyTwiML is the answer to an accepted webhook request. Replies to the
// donor go through the outbox, never through TwiML.
const EmptyTwiML = `<?xml version="1.0" encoding="UTF-8"?><Response/>`

// MOHandler processes one inbound message. It returns only after the
// message and its effects are committed.
//
// An error wrapping donation.ErrDuplicate (already processed) is answered
// 200; one of kind donation.Invalid or NotFound (an unknown short code) 400
// or 404; any other 503, so that the gateway retries.
type MOHandler interface {
	HandleMO(ctx context.Context, mo donation.MO) error
}

// StatusRecorder stores the delivery status of the MT the gateway took as
// sid. Callbacks may repeat or arrive out of order; a later status must
// never be overwritten by an earlier one.
type StatusRecorder interface {
	RecordStatus(ctx context.Context, sid string, status donation.DeliveryStatus, errorCode string, now time.Time) error
}

// Webhook receives Twilio's inbound message and status callback requests.
// Every request must carry a valid X-Twilio-Signature and name the account
// in AccountSid; requests that do not are answered 403. A signed request
// whose parameters lack Twilio's exact shapes is answered 400. Either way
// it is handed to nobody.
type Webhook struct {
	// AuthToken is the account's auth token, the key of the signatures.
	// When it is empty every request is refused (403).
	AuthToken string
	// AccountSID is the account sid requests must carry in AccountSid.
	// When it is empty every request is refused (403).
	AccountSID string
	// PublicURL is the scheme and authority the gateway requests, e.g.
	// "https://sms.example.org" or "http://127.0.0.1:8080", possibly with
	// a path prefix added by a proxy. Signatures are checked over PublicURL
	// followed by the request URI as received (path and query). When it
	// is empty, the scheme and Host header of the request are used.
	PublicURL string
	// MOs receives the inbound messages.
	MOs MOHandler
	// Statuses receives the delivery status callbacks.
	Statuses StatusRecorder
	// Now tells the time; nil means time.Now.
	Now func() time.Time
	// Log receives failures; nil means slog.Default().
	Log *slog.Logger
}

// Register adds the webhook's routes to s: POST SMSPath and POST
// StatusPath. They need no token: every request must carry the gateway's
// signature instead. Their errors are answered by s, by kind: 400 for a
// malformed request, 403 for a bad signature or another account, 404 for
// an unknown short code, 503 (the gateway retries) for anything else.
func (w *Webhook) Register(s *httpserver.Server) {
	s.Route(http.MethodPost, SMSPath, nil, w.HandleSMS)
	s.Route(http.MethodPost, StatusPath, nil, w.HandleStatus)
}

var (
	// e164 is the shape of a phone number; the domain validates further.
	e164 = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)
	// address is the shape of a destination: a short code or a number.
	address = regexp.MustCompile(`^\+?[0-9]{3,15}$`)
	// messageSID is the shape of a message id: SM (SMS) or MM (MMS) and 32
	// lower-case hex digits, exactly. A looser shape let a replay take the
	// next parameter into the id and pass for a new message.
	messageSID = regexp.MustCompile(`^(SM|MM)[0-9a-f]{32}$`)
	// status is the shape of a MessageStatus or SmsStatus value.
	status = regexp.MustCompile(`^[a-z][a-z_-]{0,31}$`)
	// errorCode is the shape of an ErrorCode value, empty when none.
	errorCode = regexp.MustCompile(`^[0-9]{0,10}$`)
	// count is the shape of NumMedia and NumSegments.
	count = regexp.MustCompile(`^[0-9]{1,3}$`)
)

// shapes are the exact shapes of the parameters that name or count
// something. They are checked whenever present, used or not, so that none
// can take in or give up a neighbour's bytes (see checkForm). AccountSid is
// checked against the configured account, SmsSid and SmsMessageSid against
// MessageSid.
var shapes = map[string]*regexp.Regexp{
	"MessageSid":          messageSID,
	"MessagingServiceSid": regexp.MustCompile(`^MG[0-9a-f]{32}$`),
	"From":                address,
	"To":                  address,
	"NumMedia":            count,
	"NumSegments":         count,
	"ReferralNumMedia":    count,
	"ApiVersion":          regexp.MustCompile(`^[0-9]{4}-[0-9]{2}-[0-9]{2}$`),
	"SmsStatus":           status,
	"MessageStatus":       status,
	"ErrorCode":           errorCode,
}

// HandleSMS takes an inbound message: answered with empty TwiML once the
// message and its effects are committed (or were already).
func (w *Webhook) HandleSMS(rw http.ResponseWriter, r *http.Request) error {
	form, err := w.readSigned(r)
	if err != nil {
		return err
	}
	mo := donation.MO{
		Gateway:   Gateway,
		MessageID: form.Get("MessageSid"),
		From:      form.Get("From"),
		To:        form.Get("To"),
		Body:      clean(form.Get("Body")),
		At:        w.now(),
	}
	switch {
	case mo.MessageID == "":
		return invalid("MessageSid is required")
	case mo.From == "":
		return invalid("From is required")
	case !e164.MatchString(mo.From):
		return invalid("From is not an E.164 phone number")
	case mo.To == "":
		return invalid("To is required")
	case form["Body"] == nil:
		return invalid("Body is required")
	case nameBetweenBodyAndFrom(form):
		return invalid("a parameter sorts between Body and From, where Twilio sends none")
	case plusAfterFrom(form):
		return invalid("a parameter other than From, To and Body holds a '+'")
	case w.MOs == nil:
		return fmt.Errorf("twilio: webhook has no MO handler: %w", donation.ErrUnavailable)
	}

	err = w.MOs.HandleMO(r.Context(), mo)
	switch k := donation.KindOf(err); {
	case err == nil, errors.Is(err, donation.ErrDuplicate):
		writeTwiML(rw)
		return nil
	case k == donation.Invalid || k == donation.NotFound:
		w.log().Warn("twilio: MO refused", "sid", mo.MessageID, "from", compliance.MaskPhone(mo.From), "to", mo.To, "err", err)
		return err
	default:
		// Anything else may pass: the gateway retries on 5xx.
		w.log().Error("twilio: handling MO failed; the gateway will retry",
			"sid", mo.MessageID, "from", compliance.MaskPhone(mo.From), "to", mo.To, "err", err)
		return fmt.Errorf("%w: %w", donation.ErrUnavailable, err)
	}
}

// HandleStatus records a delivery status callback.
func (w *Webhook) HandleStatus(rw http.ResponseWriter, r *http.Request) error {
	form, err := w.readSigned(r)
	if err != nil {
		return err
	}
	// A status callback holds nothing the donor wrote, so the exact shapes
	// of checkForm leave no boundary to move.
	msgSID, st, code := form.Get("MessageSid"), form.Get("MessageStatus"), form.Get("ErrorCode")
	switch {
	case msgSID == "":
		return invalid("MessageSid is required")
	case st == "":
		return invalid("MessageStatus is required")
	case w.Statuses == nil:
		return fmt.Errorf("twilio: webhook has no status recorder: %w", donation.ErrUnavailable)
	}

	ds := DeliveryStatus(st)
	if ds == donation.DeliveryUnknown {
		w.log().Warn("twilio: unknown MessageStatus; recorded as unknown", "sid", msgSID, "status", st)
	}
	err = w.Statuses.RecordStatus(r.Context(), msgSID, ds, code, w.now())
	switch k := donation.KindOf(err); {
	case err == nil:
		writeTwiML(rw)
		return nil
	case k == donation.Invalid:
		w.log().Warn("twilio: status callback refused", "sid", msgSID, "status", st, "err", err)
		return err
	default:
		w.log().Error("twilio: recording status failed", "sid", msgSID, "status", st, "err", err)
		return fmt.Errorf("%w: %w", donation.ErrUnavailable, err)
	}
}

func invalid(msg string) error { return fmt.Errorf("twilio: %s: %w", msg, donation.ErrInvalid) }

// readSigned reads the request's form and checks its signature and
// parameters (checkForm).
func (w *Webhook) readSigned(r *http.Request) (url.Values, error) {
	r.Body = http.MaxBytesReader(nil, r.Body, MaxBodyBytes)
	if err := r.ParseForm(); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, tooBig
		}
		return nil, invalid("malformed form")
	}
	if w.AuthToken == "" || w.AccountSID == "" {
		w.log().Error("twilio: webhook has no auth token or account sid; refusing every request")
		return nil, fmt.Errorf("twilio: webhook not configured: %w", donation.ErrForbidden)
	}
	got := r.Header.Get(SignatureHeader)
	if !ValidSignature(w.AuthToken, w.requestURL(r), r.PostForm, got) {
		w.log().Warn("twilio: refused a request with a missing or bad signature",
			"path", r.URL.Path, "remote", r.RemoteAddr, "signed", got != "")
		return nil, fmt.Errorf("twilio: missing or bad signature: %w", donation.ErrForbidden)
	}
	if err := w.checkForm(r, r.PostForm); err != nil {
		return nil, err
	}
	return r.PostForm, nil
}

// checkForm checks the parameters of a signed request: Forbidden when
// AccountSid is not the configured account (the request is not for us),
// Invalid when a parameter is malformed.
//
// Twilio's signature joins names and values without separators, so a
// captured request can be re-split under the same signature: a value made
// to take in the next parameter ("MessageSid=SM...NumMedia0" with NumMedia
// dropped) or to give up its end to a new one. Values of an exact shape can
// do neither, and a name given twice, which Twilio never sends, could stand
// for either of its values, so it is refused too. The one field the sender
// writes, Body, is dealt with by plusAfterFrom.
func (w *Webhook) checkForm(r *http.Request, form url.Values) error {
	if acct := form["AccountSid"]; len(acct) != 1 || acct[0] != w.AccountSID {
		w.log().Warn("twilio: refused a signed request without this account's AccountSid",
			"path", r.URL.Path, "remote", r.RemoteAddr)
		return fmt.Errorf("twilio: not this account's request: %w", donation.ErrForbidden)
	}
	for _, name := range slices.Sorted(maps.Keys(form)) {
		v := form[name]
		var err error
		switch {
		case len(v) != 1:
			err = invalid("a parameter is repeated")
		case strings.Contains(name, "+"):
			err = invalid("a parameter name holds a '+'")
		case shapes[name] != nil && !shapes[name].MatchString(v[0]):
			err = invalid(name + " is malformed")
		case (name == "SmsSid" || name == "SmsMessageSid") && v[0] != form.Get("MessageSid"):
			err = invalid(name + " is not MessageSid")
		default:
			continue
		}
		w.log().Warn("twilio: refused a signed request with a malformed parameter",
			"path", r.URL.Path, "remote", r.RemoteAddr, "param", name)
		return err
	}
	return nil
}

// plusAfterFrom reports whether a parameter sorting after From, other than
// To, holds a '+'. Refusing those keeps Body, which the sender writes, from
// being re-split into a message of its own: a sender who texts
// "START"+"From<victim>MessageSid<new id>To<short code>Zz" could otherwise
// re-send the signed request as that START from the victim, with Zz taking
// in the real From and all that follows.
//
// In any re-split the real From's '+' lies in some value (names with a '+'
// are refused). Not To's: the bytes before it are "om", not "To". Not the
// URL's query, Body's or that of a parameter sorting before From: a From
// after it would lie in Twilio's bytes, which hold no other "From+", and
// one before it would sort after it. With the parameters after From refused
// here, it is From's own value, so From is the real one (it cannot end
// early: a name starting with a digit would sort before it). Then
// MessageSid, which sorts after From, comes from Twilio's bytes too, where
// "MessageSid" is followed by the real id alone.
func plusAfterFrom(form url.Values) bool {
	for name, v := range form {
		if name > "From" && name != "To" && strings.Contains(v[0], "+") {
			return true
		}
	}
	return false
}

// nameBetweenBodyAndFrom reports whether a parameter's name sorts between
// Body and From, where Twilio's SMS webhook has none. Refusing those (and a
// form without Body) keeps the end of Body, or the name Body itself, from
// being re-split into a parameter nobody reads: "Body=END" re-cut as
// "Body=" and "END=", under the same signature and MessageSid, would
// record the message as empty, and the genuine delivery would then be a
// duplicate: an opt-out lost (found by FuzzWebhookResplit).
func nameBetweenBodyAndFrom(form url.Values) bool {
	for name := range form {
		if name > "Body" && name < "From" {
			return true
		}
	}
	return false
}

// requestURL is the URL the gateway signed: the public URL and the request
// URI exactly as received.
func (w *Webhook) requestURL(r *http.Request) string {
	base := strings.TrimSuffix(w.PublicURL, "/")
	if base == "" {
		scheme := "http"
		if r.TLS != nil {
			scheme = "https"
		}
		base = scheme + "://" + r.Host
	}
	uri := r.RequestURI
	if !strings.HasPrefix(uri, "/") {
		uri = r.URL.RequestURI()
	}
	return base + uri
}

func (w *Webhook) now() time.Time {
	if w.Now != nil {
		return w.Now()
	}
	return time.Now()
}

func (w *Webhook) log() *slog.Logger {
	if w.Log != nil {
		return w.Log
	}
	return slog.Default()
}

func writeTwiML(rw http.ResponseWriter) {
	rw.Header().Set("Content-Type", "text/xml")
	rw.WriteHeader(http.StatusOK)
	_, _ = rw.Write([]byte(EmptyTwiML))
}

// clean makes a message body safe to store: invalid UTF-8 becomes U+FFFD
// and NUL characters are dropped, so that a garbled message is still
// processed (it may be a STOP) instead of failing in storage forever.
func clean(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	return strings.ReplaceAll(s, "\x00", "")
}
