package loadtest

import (
	"cmp"
	"context"
	"errors"
	"hash/fnv"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/shortcode/shortcode/carrier/sim"
	"github.com/shortcode/shortcode/carrier/twilio"
)

// Webhook delivers MOs to serve's webhook as the gateway does, with the
// form and signature of the simulator's phones (carrier/sim): posted to
// URL, signed with the auth token over SignURL, posted again after a 5xx
// answer or a connection error, with doubling waits.
type Webhook struct {
	URL     string // where to post, e.g. http://127.0.0.1:8080/gateways/twilio/sms
	SignURL string // what serve signs over: its --public-url and the path
	// Also are more servers' webhook URLs, behind the same public URL as
	// a load balancer would put them: each number's MOs go to one of URL
	// and Also, chosen by the number, so that several servers share it.
	Also       []string
	AccountSID string
	AuthToken  string
	HTTP       *http.Client
	// Attempts bounds the posts of one MO (default sim.DefaultAttempts);
	// Backoff is the first wait between them (default sim.DefaultBackoff).
	Attempts int
	Backoff  time.Duration
}

// Attempt is one post of an MO: when it started, how long its answer took,
// the status (0 when there was none) and the error, if any.
type Attempt struct {
	At       time.Time
	Latency  time.Duration
	Status   int
	Err      error
	BytesIn  int64
	BytesOut int64
}

// ok reports whether the webhook took the MO.
func (a Attempt) ok() bool { return a.Err == nil && a.Status >= 200 && a.Status < 300 }

// Send delivers one MO from the number from to the short code to and
// returns its MessageSid and every post made. It stops at the first answer
// that is not a 5xx, or when the attempts run out, or ctx ends.
func (h *Webhook) Send(ctx context.Context, from, to, body string) (string, []Attempt) {
	sid := newSID("SM")
	params := url.Values{
		"MessageSid":    {sid},
		"SmsSid":        {sid},
		"SmsMessageSid": {sid},
		"AccountSid":    {h.AccountSID},
		"From":          {from},
		"To":            {to},
		"Body":          {body},
		"NumMedia":      {"0"},
		"NumSegments":   {"1"},
		"SmsStatus":     {"received"},
		"ApiVersion":    {"2010-04-01"},
	}
	sig := twilio.Signature(h.AuthToken, h.SignURL, params)
	form := params.Encode()
	attempts := cmp.Or(h.Attempts, sim.DefaultAttempts)
	wait := cmp.Or(h.Backoff, sim.DefaultBackoff)
	target := h.URL
	if len(h.Also) > 0 {
		f := fnv.New32a()
		io.WriteString(f, from)
		if i := int(f.Sum32() % uint32(len(h.Also)+1)); i > 0 {
			target = h.Also[i-1]
		}
	}
	var out []Attempt
	for {
		a := h.post(ctx, target, sig, form)
		out = append(out, a)
		if (a.Err == nil && a.Status < 500) || len(out) >= attempts || ctx.Err() != nil {
			return sid, out
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return sid, out
		case <-t.C:
		}
		wait *= 2
	}
}

// post makes one signed post.
func (h *Webhook) post(ctx context.Context, target, sig, form string) Attempt {
	a := Attempt{At: time.Now(), BytesOut: int64(len(form))}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, strings.NewReader(form))
	if err != nil {
		a.Err = err
		return a
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set(twilio.SignatureHeader, sig)
	req.Header.Set("User-Agent", "TwilioProxy/1.1")
	resp, err := h.HTTP.Do(req)
	if err != nil {
		a.Latency, a.Err = time.Since(a.At), err
		return a
	}
	a.BytesIn, err = io.Copy(io.Discard, io.LimitReader(resp.Body, maxBody))
	resp.Body.Close()
	a.Latency, a.Status = time.Since(a.At), resp.StatusCode
	if err != nil && !errors.Is(err, io.EOF) {
		a.Err = err
	}
	return a
}
