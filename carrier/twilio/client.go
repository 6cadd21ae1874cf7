package twilio

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/shortcode/shortcode/compliance"
	"github.com/shortcode/shortcode/donation"
)

// Error codes of the Twilio REST API that the client treats specially.
const (
	// CodeUnsubscribed: the recipient has opted out (texted STOP).
	CodeUnsubscribed = 21610
	// CodeTooManyRequests: the account is rate limited; retry later.
	CodeTooManyRequests = 20429
)

// maxResponseBytes bounds how much of an API answer the client reads.
const maxResponseBytes = 1 << 20

// defaultHTTP is used when Client.HTTP is nil; its timeout keeps a hung
// gateway from blocking the outbox forever.
var defaultHTTP = &http.Client{Timeout: 30 * time.Second}

// Client sends MTs through the Twilio Messages API. It implements
// donation.Sender.
type Client struct {
	// BaseURL is the API's scheme and authority, e.g.
	// "https://api.twilio.com" or the simulator's address.
	BaseURL string
	// AccountSID and AuthToken are the HTTP Basic credentials; the account
	// sid is also part of the URL.
	AccountSID string
	AuthToken  string
	// StatusCallback, when set, is the URL the gateway posts delivery
	// status callbacks to.
	StatusCallback string
	// HTTP is the client used for requests; nil means a client with a 30
	// second timeout.
	HTTP *http.Client
}

var _ donation.Sender = (*Client)(nil)

// APIError is an error answer of the Twilio REST API, e.g.
// {"code":21610,"message":"Attempt to send to unsubscribed recipient","status":400}.
type APIError struct {
	Code     int    `json:"code"`                // Twilio error code; 0 if the answer had none
	Message  string `json:"message"`             // Twilio's text, as received
	MoreInfo string `json:"more_info,omitempty"` // the code's page
	Status   int    `json:"status"`              // HTTP status code
}

// Error describes the error with any phone numbers in Twilio's text masked,
// so that it can be logged.
func (e *APIError) Error() string {
	msg := compliance.MaskPhones(e.Message)
	if e.Code == 0 {
		return fmt.Sprintf("twilio: HTTP %d: %s", e.Status, msg)
	}
	return fmt.Sprintf("twilio: error %d: %s (HTTP %d)", e.Code, msg, e.Status)
}

// Send posts mt to the Messages API and returns the message sid.
//
// An error wrapping donation.ErrUnsubscribed (Twilio 21610) or
// donation.ErrRejected (any other 4xx answer but 401 and 429) is final; it
// also wraps the *APIError. 401, 429 and 20429 answers, and connections
// that could not be made, wrap donation.ErrNotSent: the gateway did not
// take the message. After any other error (timeouts, a dropped
// connection, 5xx, an unreadable success answer) the gateway may have
// taken it: the outbox looks for it with Sent before sending it again.
func (c *Client) Send(ctx context.Context, mt donation.MT) (string, error) {
	if c.BaseURL == "" || c.AccountSID == "" {
		return "", errors.New("twilio: send: client not configured (BaseURL and AccountSID are required)")
	}
	form := url.Values{
		"To":   {mt.To},
		"From": {mt.From},
		"Body": {mt.Body},
	}
	if c.StatusCallback != "" {
		form.Set("StatusCallback", c.StatusCallback)
	}
	endpoint := strings.TrimSuffix(c.BaseURL, "/") +
		"/2010-04-01/Accounts/" + url.PathEscape(c.AccountSID) + "/Messages.json"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return "", fmt.Errorf("twilio: send: %w", err)
	}
	req.SetBasicAuth(c.AccountSID, c.AuthToken)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")

	hc := c.HTTP
	if hc == nil {
		hc = defaultHTTP
	}
	resp, err := hc.Do(req)
	if err != nil {
		var op *net.OpError
		if errors.As(err, &op) && op.Op == "dial" {
			return "", fmt.Errorf("twilio: send: %w: %w", donation.ErrNotSent, err)
		}
		return "", fmt.Errorf("twilio: send: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil {
		return "", fmt.Errorf("twilio: send: reading answer (HTTP %d): %w", resp.StatusCode, err)
	}

	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		var m struct {
			SID string `json:"sid"`
		}
		if err := json.Unmarshal(body, &m); err != nil {
			return "", fmt.Errorf("twilio: send: unreadable answer (HTTP %d): %w", resp.StatusCode, err)
		}
		if m.SID == "" {
			return "", fmt.Errorf("twilio: send: answer (HTTP %d) has no sid", resp.StatusCode)
		}
		return m.SID, nil
	}
	return "", classify(apiError(resp.StatusCode, body))
}

// maxListPages bounds how many pages of the message list Sent reads.
const maxListPages = 20

// Sent reads the account's messages from mt.From to mt.To, newest first,
// back to since, and returns the sids of those with exactly mt.Body,
// oldest first. It does not filter by DateSent: a message the gateway
// took but has not sent yet has none. Twilio's dates have whole seconds,
// so since is rounded down.
func (c *Client) Sent(ctx context.Context, mt donation.MT, since time.Time) ([]string, error) {
	if c.BaseURL == "" || c.AccountSID == "" {
		return nil, errors.New("twilio: list: client not configured (BaseURL and AccountSID are required)")
	}
	since = since.UTC().Truncate(time.Second)
	q := url.Values{
		"To":       {mt.To},
		"From":     {mt.From},
		"PageSize": {"1000"},
	}
	base := strings.TrimSuffix(c.BaseURL, "/")
	next := "/2010-04-01/Accounts/" + url.PathEscape(c.AccountSID) + "/Messages.json?" + q.Encode()
	type match struct {
		sid string
		at  time.Time
	}
	var found []match
	for page := 0; next != "" && page < maxListPages; page++ {
		var list MessageList
		if err := c.get(ctx, base+next, &list); err != nil {
			return nil, err
		}
		older := false
		for _, m := range list.Messages {
			at, err := time.Parse(TimeLayout, m.DateCreated)
			if err != nil {
				return nil, fmt.Errorf("twilio: list: message %s: date_created %q: %w", m.SID, m.DateCreated, err)
			}
			if at.Before(since) {
				older = true
				continue
			}
			if m.To == mt.To && m.From == mt.From && m.Body == mt.Body {
				found = append(found, match{m.SID, at})
			}
		}
		next = ""
		if list.NextPageURI != nil && !older {
			next = *list.NextPageURI
		}
	}
	if next != "" {
		return nil, fmt.Errorf("twilio: list: more than %d pages of messages to %s", maxListPages, compliance.MaskPhone(mt.To))
	}
	slices.SortStableFunc(found, func(a, b match) int { return a.at.Compare(b.at) })
	sids := make([]string, len(found))
	for i, m := range found {
		sids[i] = m.sid
	}
	return sids, nil
}

// get reads one JSON answer of the API into v.
func (c *Client) get(ctx context.Context, u string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return fmt.Errorf("twilio: list: %w", err)
	}
	req.SetBasicAuth(c.AccountSID, c.AuthToken)
	req.Header.Set("Accept", "application/json")
	hc := c.HTTP
	if hc == nil {
		hc = defaultHTTP
	}
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("twilio: list: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxListBytes))
	if err != nil {
		return fmt.Errorf("twilio: list: reading answer (HTTP %d): %w", resp.StatusCode, err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("twilio: list: %w", apiError(resp.StatusCode, body))
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("twilio: list: unreadable answer: %w", err)
	}
	return nil
}

// maxListBytes bounds one page of the message list.
const maxListBytes = 16 << 20

// apiError decodes an error answer. Answers that are not Twilio's JSON keep
// the start of their text as the message.
func apiError(httpStatus int, body []byte) *APIError {
	e := &APIError{}
	if err := json.Unmarshal(body, e); err != nil {
		e = &APIError{Message: truncate(strings.TrimSpace(string(body)), 200)}
	}
	e.Status = httpStatus
	return e
}

// classify wraps e in the sentinel that tells the outbox whether to retry.
func classify(e *APIError) error {
	switch {
	case e.Code == CodeUnsubscribed:
		return fmt.Errorf("twilio: send: %w: %w", donation.ErrUnsubscribed, e)
	case e.Code == CodeTooManyRequests,
		e.Status == http.StatusTooManyRequests,
		e.Status == http.StatusUnauthorized: // bad credentials: fix the configuration, keep the MTs
		return fmt.Errorf("twilio: send: %w: %w", donation.ErrNotSent, e)
	case e.Status >= 500:
		return fmt.Errorf("twilio: send: %w", e)
	case e.Status >= 400:
		return fmt.Errorf("twilio: send: %w: %w", donation.ErrRejected, e)
	default:
		return fmt.Errorf("twilio: send: unexpected answer: %w", e)
	}
}

func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "…"
}
