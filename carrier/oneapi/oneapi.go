// Package oneapi is a client of one carrier's GSMA OneAPI Payment API (OMA
// ParlayREST Payment) and of the number lookup the carrier side answers
// (SPEC §12.2).
//
// A charge is declined only when the carrier says so: a requestError in a
// 400 or 403 answer. Every other failure (timeouts, broken connections,
// 5xx, 401, answers that cannot be read) leaves the outcome unknown; the
// caller then resolves it with Status, and never charges again blindly.
package oneapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/shortcode/shortcode/compliance"
	"github.com/shortcode/shortcode/donation"
)

// Errors a Client's methods wrap.
var (
	// ErrReferenceReused: the carrier has seen the referenceCode with
	// another clientCorrelator (OneAPI SVC0002). It is not a decline: a
	// charge under that reference may exist, and Status tells.
	ErrReferenceReused = errors.New("oneapi: referenceCode already used with another clientCorrelator (SVC0002)")
	// ErrUnauthorized: the carrier refused the credentials (HTTP 401).
	ErrUnauthorized = errors.New("oneapi: unauthorized (HTTP 401)")
	// ErrMalformed: an answer could not be read, is larger than 1 MiB, or
	// does not say what the request asked (another reference or amount).
	ErrMalformed = errors.New("oneapi: malformed answer")
)

// maxResponseBytes bounds how much of an answer the client reads.
const maxResponseBytes = 1 << 20

// maxReasonRunes bounds the carrier's text kept in a decline reason.
const maxReasonRunes = 500

// defaultHTTP is used when Client.HTTP is nil. It does not follow
// redirects: a 3xx answer to a charge is an unknown outcome, not something
// to post elsewhere.
var defaultHTTP = &http.Client{
	Timeout: 10 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	},
}

// Transaction statuses of OneAPI Payment.
const (
	statusCharged    = "Charged"
	statusRefunded   = "Refunded"
	statusProcessing = "Processing"
)

// Client is a OneAPI Payment client for one carrier. It implements
// donation.Biller and donation.Looker. A Client is safe for concurrent use
// once its fields are set.
type Client struct {
	// BaseURL is the carrier's API root, e.g. "https://api.example.com" or
	// the simulator's address; the API paths are appended to it.
	BaseURL string
	// Username and Password are sent with HTTP Basic authentication when
	// Username is not empty.
	Username, Password string
	// Token, when set, is sent as "Authorization: Bearer <Token>" instead
	// of Basic authentication.
	Token string
	// HTTP is the client used for requests; nil means a client with a 10
	// second timeout that does not follow redirects.
	HTTP *http.Client
}

var (
	_ donation.Biller = (*Client)(nil)
	_ donation.Looker = (*Client)(nil)
)

// Wire types (SPEC §12.2).

type envelope struct {
	AmountTransaction *amountTransaction `json:"amountTransaction"`
}

type amountTransaction struct {
	EndUserID                   string         `json:"endUserId,omitempty"`
	ClientCorrelator            string         `json:"clientCorrelator,omitempty"`
	ReferenceCode               string         `json:"referenceCode,omitempty"`
	TransactionOperationStatus  string         `json:"transactionOperationStatus,omitempty"`
	OriginalServerReferenceCode string         `json:"originalServerReferenceCode,omitempty"`
	PaymentAmount               *paymentAmount `json:"paymentAmount,omitempty"`
	ServerReferenceCode         string         `json:"serverReferenceCode,omitempty"`
	ResourceURL                 string         `json:"resourceURL,omitempty"`
}

type paymentAmount struct {
	ChargingInformation *chargingInformation `json:"chargingInformation,omitempty"`
	ChargingMetaData    *chargingMetaData    `json:"chargingMetaData,omitempty"`
	TotalAmountCharged  string               `json:"totalAmountCharged,omitempty"`
}

type chargingInformation struct {
	Amount      string `json:"amount,omitempty"`
	Currency    string `json:"currency,omitempty"`
	Description string `json:"description,omitempty"`
}

type chargingMetaData struct {
	OnBehalfOf           string `json:"onBehalfOf,omitempty"`
	PurchaseCategoryCode string `json:"purchaseCategoryCode,omitempty"`
	Channel              string `json:"channel,omitempty"`
}

type transactionList struct {
	PaymentTransactionList *struct {
		AmountTransaction []amountTransaction `json:"amountTransaction"`
	} `json:"paymentTransactionList"`
}

type errorEnvelope struct {
	RequestError *struct {
		ServiceException *exception `json:"serviceException"`
		PolicyException  *exception `json:"policyException"`
	} `json:"requestError"`
}

type exception struct {
	MessageID string   `json:"messageId"`
	Text      string   `json:"text"`
	Variables []string `json:"variables"`
}

type lookupAnswer struct {
	Country  string `json:"country"`
	Carrier  string `json:"carrier"`
	LineType string `json:"lineType"`
}

// Charge posts a charge of req.Amount to req.Phone with req.DonationID as
// the referenceCode and req.Correlator as the clientCorrelator.
//
// The result is Charged with the carrier's serverReferenceCode, or
// ChargeDeclined with the carrier's messageId as Code and the decline
// taxonomy (see Classify) and the carrier's text as Reason. A 202
// "Processing" answer is Unknown with a nil error: the result comes later.
// Every other failure is Unknown with a non-nil error, among them
// ErrReferenceReused, ErrUnauthorized and ErrMalformed.
func (c *Client) Charge(ctx context.Context, req donation.ChargeRequest) (donation.ChargeResult, error) {
	unknown := donation.ChargeResult{Outcome: donation.Unknown}
	op := fmt.Sprintf("oneapi: charge %q", req.DonationID)
	if err := checkRequest(req.DonationID, req.Correlator, req.Phone, req.Amount); err != nil {
		return unknown, fmt.Errorf("%s: %w", op, err)
	}
	channel := req.Channel
	if channel == "" {
		channel = "SMS"
	}
	tx := amountTransaction{
		EndUserID:                  "tel:" + req.Phone,
		ClientCorrelator:           req.Correlator,
		ReferenceCode:              req.DonationID,
		TransactionOperationStatus: statusCharged,
		PaymentAmount: &paymentAmount{
			ChargingInformation: &chargingInformation{
				Amount:      FormatAmount(req.Amount),
				Currency:    "USD",
				Description: "Donation to " + req.CommitteeName,
			},
			ChargingMetaData: &chargingMetaData{
				OnBehalfOf:           req.CommitteeName + " (" + req.CommitteeID + ")",
				PurchaseCategoryCode: "Donation",
				Channel:              channel,
			},
		},
	}
	ans, err := c.post(ctx, req.Phone, tx)
	if err != nil {
		return unknown, fmt.Errorf("%s: %w", op, err)
	}

	switch {
	case ans.ok():
		t, err := ans.transaction(req.DonationID, req.Amount)
		if err != nil {
			return unknown, fmt.Errorf("%s: %w", op, err)
		}
		switch t.TransactionOperationStatus {
		case statusCharged:
			if t.ServerReferenceCode == "" {
				return unknown, fmt.Errorf("%s: %w: HTTP %d: Charged without a serverReferenceCode", op, ErrMalformed, ans.status)
			}
			return donation.ChargeResult{Outcome: donation.Charged, ServerRef: t.ServerReferenceCode}, nil
		case statusProcessing:
			return unknown, nil
		default:
			return unknown, fmt.Errorf("%s: %w: HTTP %d with transactionOperationStatus %q",
				op, ErrMalformed, ans.status, t.TransactionOperationStatus)
		}
	case ans.refused():
		code, reason, err := ans.decline(req.Phone)
		if err != nil {
			return unknown, fmt.Errorf("%s: %w", op, err)
		}
		return donation.ChargeResult{Outcome: donation.ChargeDeclined, Code: code, Reason: reason}, nil
	}
	return unknown, fmt.Errorf("%s: %w", op, ans.failure(req.Phone))
}

// Status asks the carrier what became of a charge posted under
// req.DonationID, from the list of the transactions it applied for
// req.Phone.
//
// A transaction under the reference with status "Charged" and the amount
// req.Amount is Charged with its serverReferenceCode; one still
// "Processing" is Unknown with a nil error (ask again later); any other
// status is ChargeDeclined with Reason "status <status>". No transaction
// under the reference is NotCharged. Every failure is Unknown with a
// non-nil error, as is a charged amount other than req.Amount.
func (c *Client) Status(ctx context.Context, req donation.ChargeRequest) (donation.ChargeResult, error) {
	unknown := donation.ChargeResult{Outcome: donation.Unknown}
	op := fmt.Sprintf("oneapi: status of %q", req.DonationID)
	if req.DonationID == "" {
		return unknown, fmt.Errorf("%s: empty DonationID", op)
	}
	if err := checkPhone(req.Phone); err != nil {
		return unknown, fmt.Errorf("%s: %w", op, err)
	}
	endpoint, masked := c.paymentURL(req.Phone, "/transactions")
	ans, err := c.do(ctx, http.MethodGet, endpoint, masked, nil)
	if err != nil {
		return unknown, fmt.Errorf("%s: %w", op, err)
	}
	if ans.status != http.StatusOK {
		return unknown, fmt.Errorf("%s: %w", op, ans.failure(req.Phone))
	}
	var list transactionList
	if err := ans.decode(&list); err != nil {
		return unknown, fmt.Errorf("%s: %w", op, err)
	}
	if list.PaymentTransactionList == nil {
		return unknown, fmt.Errorf("%s: %w: no paymentTransactionList", op, ErrMalformed)
	}

	var found *amountTransaction
	for i := range list.PaymentTransactionList.AmountTransaction {
		t := &list.PaymentTransactionList.AmountTransaction[i]
		if t.ReferenceCode == "" || t.TransactionOperationStatus == "" {
			return unknown, fmt.Errorf("%s: %w: a listed transaction lacks its referenceCode or status", op, ErrMalformed)
		}
		if t.ReferenceCode != req.DonationID {
			continue
		}
		// A charge wins over anything else listed under the reference,
		// then a pending one.
		if found == nil || t.TransactionOperationStatus == statusCharged ||
			t.TransactionOperationStatus == statusProcessing && found.TransactionOperationStatus != statusCharged {
			found = t
		}
	}
	switch {
	case found == nil:
		return donation.ChargeResult{Outcome: donation.NotCharged}, nil
	case found.TransactionOperationStatus == statusCharged:
		if found.ServerReferenceCode == "" {
			return unknown, fmt.Errorf("%s: %w: Charged without a serverReferenceCode", op, ErrMalformed)
		}
		if err := found.checkAmount(req.Amount, true); err != nil {
			return unknown, fmt.Errorf("%s: %w", op, err)
		}
		return donation.ChargeResult{Outcome: donation.Charged, ServerRef: found.ServerReferenceCode}, nil
	case found.TransactionOperationStatus == statusProcessing:
		return unknown, nil
	default:
		return donation.ChargeResult{
			Outcome: donation.ChargeDeclined,
			Reason:  "status " + truncate(found.TransactionOperationStatus, maxReasonRunes),
		}, nil
	}
}

// Refund posts a refund of the charge whose serverReferenceCode is
// req.OriginalServerRef, with req.Reference as the referenceCode and
// req.Correlator as the clientCorrelator.
//
// The result is Charged (meaning refunded) with the refund's own
// serverReferenceCode, or ChargeDeclined (the carrier refused) with Code and
// Reason as for Charge. Every other answer or failure, a pending refund
// included, is Unknown with a non-nil error; repeating the refund with the
// same correlator is then safe.
func (c *Client) Refund(ctx context.Context, req donation.RefundRequest) (donation.RefundResult, error) {
	unknown := donation.RefundResult{Outcome: donation.Unknown}
	op := fmt.Sprintf("oneapi: refund %q of %q", req.Reference, req.DonationID)
	if err := checkRequest(req.Reference, req.Correlator, req.Phone, req.Amount); err != nil {
		return unknown, fmt.Errorf("%s: %w", op, err)
	}
	tx := amountTransaction{
		EndUserID:                   "tel:" + req.Phone,
		ClientCorrelator:            req.Correlator,
		ReferenceCode:               req.Reference,
		TransactionOperationStatus:  statusRefunded,
		OriginalServerReferenceCode: req.OriginalServerRef,
		PaymentAmount: &paymentAmount{
			ChargingInformation: &chargingInformation{
				Amount:      FormatAmount(req.Amount),
				Currency:    "USD",
				Description: "Refund of donation to " + req.CommitteeName,
			},
			ChargingMetaData: &chargingMetaData{
				OnBehalfOf:           req.CommitteeName + " (" + req.CommitteeID + ")",
				PurchaseCategoryCode: "Donation",
			},
		},
	}
	ans, err := c.post(ctx, req.Phone, tx)
	if err != nil {
		return unknown, fmt.Errorf("%s: %w", op, err)
	}

	switch {
	case ans.status == http.StatusOK || ans.status == http.StatusCreated:
		t, err := ans.transaction(req.Reference, req.Amount)
		if err != nil {
			return unknown, fmt.Errorf("%s: %w", op, err)
		}
		if t.TransactionOperationStatus != statusRefunded {
			return unknown, fmt.Errorf("%s: %w: HTTP %d with transactionOperationStatus %q",
				op, ErrMalformed, ans.status, t.TransactionOperationStatus)
		}
		if t.ServerReferenceCode == "" {
			return unknown, fmt.Errorf("%s: %w: HTTP %d: Refunded without a serverReferenceCode", op, ErrMalformed, ans.status)
		}
		return donation.RefundResult{Outcome: donation.Charged, ServerRef: t.ServerReferenceCode}, nil
	case ans.refused():
		code, reason, err := ans.decline(req.Phone)
		if err != nil {
			return unknown, fmt.Errorf("%s: %w", op, err)
		}
		return donation.RefundResult{Outcome: donation.ChargeDeclined, Code: code, Reason: reason}, nil
	}
	return unknown, fmt.Errorf("%s: %w", op, ans.failure(req.Phone))
}

// refused reports a service (400) or policy (403) error answer.
func (a answer) refused() bool {
	return a.status == http.StatusBadRequest || a.status == http.StatusForbidden
}

// decline reads a refusal: the carrier's code and the taxonomy reason, or
// an error when the body is not a requestError or says SVC0002 (a reused
// reference is not a decline: the status query resolves it).
func (a answer) decline(phone string) (code, reason string, err error) {
	ex, err := a.exception()
	if err != nil {
		return "", "", err
	}
	if ex.MessageID == "SVC0002" {
		return "", "", fmt.Errorf("%w: %s", ErrReferenceReused, ex.describe(phone))
	}
	code, reason = ex.decline(phone)
	return code, reason, nil
}

// Lookup asks the carrier side for the country, carrier and line type of
// phone (SPEC §6.1). Any answer but a 200 with a non-empty country and a
// known line type is an error.
func (c *Client) Lookup(ctx context.Context, phone string) (donation.Line, error) {
	op := "oneapi: lookup " + compliance.MaskPhone(phone)
	if err := checkPhone(phone); err != nil {
		return donation.Line{}, fmt.Errorf("%s: %w", op, err)
	}
	base := strings.TrimSuffix(c.BaseURL, "/")
	endpoint := base + "/lookup/v1/" + escapeTel(phone)
	masked := base + "/lookup/v1/tel:" + compliance.MaskPhone(phone)
	ans, err := c.do(ctx, http.MethodGet, endpoint, masked, nil)
	if err != nil {
		return donation.Line{}, fmt.Errorf("%s: %w", op, err)
	}
	if ans.status != http.StatusOK {
		return donation.Line{}, fmt.Errorf("%s: %w", op, ans.failure(phone))
	}
	var a lookupAnswer
	if err := ans.decode(&a); err != nil {
		return donation.Line{}, fmt.Errorf("%s: %w", op, err)
	}
	if a.Country == "" {
		return donation.Line{}, fmt.Errorf("%s: %w: no country", op, ErrMalformed)
	}
	switch t := donation.LineType(a.LineType); t {
	case donation.Postpaid, donation.Prepaid, donation.Business, donation.Landline:
		return donation.Line{Country: a.Country, Carrier: a.Carrier, Type: t}, nil
	default:
		return donation.Line{}, fmt.Errorf("%s: %w: unknown lineType %q", op, ErrMalformed, truncate(a.LineType, 40))
	}
}

// checkRequest validates what a charge or refund needs before anything is
// posted.
func checkRequest(reference, correlator, phone string, amount int64) error {
	switch {
	case reference == "":
		return errors.New("empty reference")
	case correlator == "":
		return errors.New("empty correlator")
	case amount <= 0:
		return fmt.Errorf("amount %d cents is not positive", amount)
	}
	return checkPhone(phone)
}

// checkPhone accepts E.164 syntax: '+' and 2 to 15 digits.
func checkPhone(phone string) error {
	digits, ok := strings.CutPrefix(phone, "+")
	if !ok || len(digits) < 2 || len(digits) > 15 || strings.Trim(digits, "0123456789") != "" {
		return fmt.Errorf("phone number %s is not in E.164 form", compliance.MaskPhone(phone))
	}
	return nil
}

// escapeTel is the endUserId "tel:+1..." as a path segment, with the '+'
// escaped as the wire contract shows it: "tel:%2B12125550100".
func escapeTel(phone string) string {
	return strings.ReplaceAll(url.PathEscape("tel:"+phone), "+", "%2B")
}

// paymentURL returns the Payment API URL of phone's transactions with
// suffix appended, and the same URL with the number masked, for errors.
func (c *Client) paymentURL(phone, suffix string) (endpoint, masked string) {
	base := strings.TrimSuffix(c.BaseURL, "/") + "/payment/v1/"
	return base + escapeTel(phone) + suffix, base + "tel:" + compliance.MaskPhone(phone) + suffix
}

// post sends tx to phone's transactions/amount resource.
func (c *Client) post(ctx context.Context, phone string, tx amountTransaction) (answer, error) {
	body, err := json.Marshal(envelope{AmountTransaction: &tx})
	if err != nil {
		return answer{}, fmt.Errorf("encoding request: %w", err)
	}
	endpoint, masked := c.paymentURL(phone, "/transactions/amount")
	return c.do(ctx, http.MethodPost, endpoint, masked, body)
}

// answer is an HTTP answer, its body read up to maxResponseBytes.
type answer struct {
	status  int
	body    []byte
	tooLong bool // the body was longer than maxResponseBytes
}

// do sends one request and reads the answer. Errors name the URL as masked,
// never with the phone number in it.
func (c *Client) do(ctx context.Context, method, endpoint, masked string, body []byte) (answer, error) {
	if c.BaseURL == "" {
		return answer{}, errors.New("client not configured: empty BaseURL")
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, endpoint, rd)
	if err != nil {
		return answer{}, fmt.Errorf("%s %s: %w", method, masked, maskURLError(err, masked))
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	switch {
	case c.Token != "":
		req.Header.Set("Authorization", "Bearer "+c.Token)
	case c.Username != "":
		req.SetBasicAuth(c.Username, c.Password)
	}

	hc := c.HTTP
	if hc == nil {
		hc = defaultHTTP
	}
	resp, err := hc.Do(req)
	if err != nil {
		return answer{}, maskURLError(err, masked)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes+1))
	if err != nil {
		return answer{}, fmt.Errorf("%s %s: reading answer (HTTP %d): %w", method, masked, resp.StatusCode, err)
	}
	a := answer{status: resp.StatusCode, body: b}
	if len(b) > maxResponseBytes {
		a.body, a.tooLong = b[:maxResponseBytes], true
	}
	return a, nil
}

// maskURLError replaces the URL in a *url.Error, which would show the phone
// number, by its masked form. The error keeps its type, so Timeout and
// errors.Is(err, context.DeadlineExceeded) still work.
func maskURLError(err error, masked string) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return &url.Error{Op: ue.Op, URL: masked, Err: ue.Err}
	}
	return err
}

func (a answer) ok() bool { return a.status >= 200 && a.status < 300 }

// decode reads the body as JSON into v.
func (a answer) decode(v any) error {
	if a.tooLong {
		return fmt.Errorf("%w: HTTP %d: answer longer than %d bytes", ErrMalformed, a.status, maxResponseBytes)
	}
	if err := json.Unmarshal(a.body, v); err != nil {
		return fmt.Errorf("%w: HTTP %d: %w", ErrMalformed, a.status, err)
	}
	return nil
}

// transaction reads an amountTransaction answer and checks that it is the
// one asked for: the referenceCode and the amount, where echoed.
func (a answer) transaction(reference string, amount int64) (*amountTransaction, error) {
	var e envelope
	if err := a.decode(&e); err != nil {
		return nil, err
	}
	t := e.AmountTransaction
	if t == nil {
		return nil, fmt.Errorf("%w: HTTP %d: no amountTransaction", ErrMalformed, a.status)
	}
	if t.ReferenceCode != "" && t.ReferenceCode != reference {
		return nil, fmt.Errorf("%w: HTTP %d: answer is for referenceCode %q", ErrMalformed, a.status, truncate(t.ReferenceCode, 80))
	}
	if err := t.checkAmount(amount, false); err != nil {
		return nil, fmt.Errorf("HTTP %d: %w", a.status, err)
	}
	return t, nil
}

// checkAmount checks the amounts and currency t states against amount
// cents. With required, t must state an amount.
func (t *amountTransaction) checkAmount(amount int64, required bool) error {
	stated := false
	check := func(name, s string) error {
		if s == "" {
			return nil
		}
		stated = true
		got, err := ParseAmount(s)
		if err != nil {
			return fmt.Errorf("%w: %s: %w", ErrMalformed, name, err)
		}
		if got != amount {
			return fmt.Errorf("%w: %s is %s, want %s", ErrMalformed, name, FormatAmount(got), FormatAmount(amount))
		}
		return nil
	}
	if p := t.PaymentAmount; p != nil {
		if err := check("totalAmountCharged", p.TotalAmountCharged); err != nil {
			return err
		}
		if ci := p.ChargingInformation; ci != nil {
			if err := check("amount", ci.Amount); err != nil {
				return err
			}
			if ci.Currency != "" && ci.Currency != "USD" {
				return fmt.Errorf("%w: currency %q, want USD", ErrMalformed, truncate(ci.Currency, 10))
			}
		}
	}
	if required && !stated {
		return fmt.Errorf("%w: transaction states no amount", ErrMalformed)
	}
	return nil
}

// exception reads a requestError answer.
func (a answer) exception() (*exception, error) {
	var e errorEnvelope
	if err := a.decode(&e); err != nil {
		return nil, fmt.Errorf("no readable requestError: %w", err)
	}
	var ex *exception
	if r := e.RequestError; r != nil {
		ex = r.PolicyException
		if ex == nil || a.status == http.StatusBadRequest && r.ServiceException != nil {
			ex = r.ServiceException
		}
	}
	if ex == nil || ex.MessageID == "" {
		return nil, fmt.Errorf("%w: HTTP %d without a requestError messageId", ErrMalformed, a.status)
	}
	return ex, nil
}

// decline returns the decline code and reason of ex, with phone masked.
func (ex *exception) decline(phone string) (code, reason string) {
	taxonomy := Classify(ex.MessageID)
	text := truncate(redact(expand(ex.Text, ex.Variables), phone), maxReasonRunes)
	if text == "" {
		return truncate(ex.MessageID, 40), taxonomy
	}
	return truncate(ex.MessageID, 40), taxonomy + ": " + text
}

// describe formats ex for an error message.
func (ex *exception) describe(phone string) string {
	return fmt.Sprintf("%s %q", truncate(ex.MessageID, 40), truncate(redact(expand(ex.Text, ex.Variables), phone), 200))
}

// failure describes an answer that is neither a result nor a decline.
func (a answer) failure(phone string) error {
	if a.status == http.StatusUnauthorized {
		return ErrUnauthorized
	}
	var e errorEnvelope
	if !a.tooLong && json.Unmarshal(a.body, &e) == nil && e.RequestError != nil {
		ex := e.RequestError.ServiceException
		if ex == nil {
			ex = e.RequestError.PolicyException
		}
		if ex != nil && ex.MessageID != "" {
			return fmt.Errorf("HTTP %d: %s", a.status, ex.describe(phone))
		}
	}
	snippet := strings.TrimSpace(truncate(redact(string(a.body), phone), 200))
	if snippet == "" {
		return fmt.Errorf("HTTP %d", a.status)
	}
	return fmt.Errorf("HTTP %d: %q", a.status, snippet)
}

// redact masks phone, and anything else that looks like a phone number (the
// carrier may write it in another form, or name another), in a text from
// the carrier.
func redact(s, phone string) string {
	if phone != "" {
		s = strings.ReplaceAll(s, phone, compliance.MaskPhone(phone))
	}
	return compliance.MaskPhones(s)
}

// truncate shortens s to n runes, marking the cut.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "…"
}
