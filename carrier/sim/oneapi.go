package sim

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/mux"

	"github.com/shortcode/shortcode/carrier/twilio"
	"github.com/shortcode/shortcode/compliance"
)

// OneAPI transaction statuses.
const (
	statusCharged  = "Charged"
	statusRefunded = "Refunded"
)

// maxKeyLength bounds clientCorrelator and referenceCode.
const maxKeyLength = 256

// amountTransaction is OneAPI's transaction resource, as posted and as
// answered.
type amountTransaction struct {
	EndUserID                   string         `json:"endUserId"`
	ClientCorrelator            string         `json:"clientCorrelator,omitempty"`
	ReferenceCode               string         `json:"referenceCode"`
	TransactionOperationStatus  string         `json:"transactionOperationStatus"`
	OriginalServerReferenceCode string         `json:"originalServerReferenceCode,omitempty"`
	PaymentAmount               *paymentAmount `json:"paymentAmount"`
	ServerReferenceCode         string         `json:"serverReferenceCode,omitempty"`
	ResourceURL                 string         `json:"resourceURL,omitempty"`
}

type paymentAmount struct {
	ChargingInformation *chargingInformation `json:"chargingInformation"`
	ChargingMetaData    *chargingMetaData    `json:"chargingMetaData,omitempty"`
	TotalAmountCharged  string               `json:"totalAmountCharged,omitempty"`
}

type chargingInformation struct {
	Amount      string `json:"amount"`
	Currency    string `json:"currency"`
	Description string `json:"description,omitempty"`
}

type chargingMetaData struct {
	OnBehalfOf           string `json:"onBehalfOf,omitempty"`
	PurchaseCategoryCode string `json:"purchaseCategoryCode,omitempty"`
	Channel              string `json:"channel,omitempty"`
}

// transactionBody is the body of a posted transaction and of a status.
type transactionBody struct {
	AmountTransaction amountTransaction `json:"amountTransaction"`
}

// applied returns the resource of the request t once applied: t echoed
// with the carrier's reference, its URL and the amount charged.
func (t amountTransaction) applied(serverRef, resourceURL string, amount int64) amountTransaction {
	out := t
	out.ServerReferenceCode = serverRef
	out.ResourceURL = resourceURL
	pa := paymentAmount{TotalAmountCharged: formatCents(amount)}
	if t.PaymentAmount != nil {
		if ci := t.PaymentAmount.ChargingInformation; ci != nil {
			c := *ci
			pa.ChargingInformation = &c
		}
		if md := t.PaymentAmount.ChargingMetaData; md != nil {
			m := *md
			pa.ChargingMetaData = &m
		}
	}
	out.PaymentAmount = &pa
	return out
}

// requestError is OneAPI's error body.
type requestError struct {
	RequestError struct {
		ServiceException *exceptionBody `json:"serviceException,omitempty"`
		PolicyException  *exceptionBody `json:"policyException,omitempty"`
	} `json:"requestError"`
}

type exceptionBody struct {
	MessageID string   `json:"messageId"`
	Text      string   `json:"text"`
	Variables []string `json:"variables,omitempty"`
}

// exception answers code: POL codes with 403 and a policyException, others
// with 400 and a serviceException.
func exception(code, text string, vars ...string) answer {
	if strings.HasPrefix(code, "POL") {
		return policyError(code, text, vars...)
	}
	return serviceError(http.StatusBadRequest, code, text, vars...)
}

// policyError answers 403 with a policyException.
func policyError(code, text string, vars ...string) answer {
	var e requestError
	e.RequestError.PolicyException = &exceptionBody{MessageID: code, Text: text, Variables: vars}
	return errorAnswer(http.StatusForbidden, e)
}

// serviceError answers status with a serviceException.
func serviceError(status int, code, text string, vars ...string) answer {
	var e requestError
	e.RequestError.ServiceException = &exceptionBody{MessageID: code, Text: text, Variables: vars}
	return errorAnswer(status, e)
}

// internalError is the answer of a simulated server failure.
func internalError() answer {
	return serviceError(http.StatusInternalServerError, "SVC0001", "Service error: simulated internal server error")
}

func errorAnswer(status int, e requestError) answer {
	body, _ := json.Marshal(e) // plain strings: cannot fail
	return answer{status: status, body: append(body, '\n')}
}

// badRequest answers a malformed request.
func badRequest(w http.ResponseWriter, why string) {
	serviceError(http.StatusBadRequest, "SVC0001", "Invalid request: "+why).write(w)
}

// registerCarrierRoutes adds the carrier's routes: OneAPI Payment, lookup,
// and the simulator's own ledger, settlement and knob endpoints.
func (s *Sim) registerCarrierRoutes(r *mux.Router) {
	r.HandleFunc("/payment/v1/{tel}/transactions/amount", s.carrierAPI(s.servePost)).Methods(http.MethodPost)
	r.HandleFunc("/payment/v1/{tel}/transactions/amount/{ref}", s.carrierAPI(s.serveTransaction)).Methods(http.MethodGet)
	r.HandleFunc("/payment/v1/{tel}/transactions", s.carrierAPI(s.serveTransactions)).Methods(http.MethodGet)
	r.HandleFunc("/lookup/v1/{tel}", s.carrierAPI(s.serveLookup)).Methods(http.MethodGet)
	r.HandleFunc("/sim/ledger", s.serveLedger).Methods(http.MethodGet)
	r.HandleFunc("/sim/settlements/{carrier}.csv", s.serveSettlement).Methods(http.MethodGet)
	r.HandleFunc("/sim/faults", s.serveFaults).Methods(http.MethodGet, http.MethodPost)
	r.HandleFunc("/sim/declines", s.serveDecline).Methods(http.MethodPost)
}

// carrierAPI wraps a carrier endpoint: every answer is delayed by
// Faults.Latency, and requests without the carrier credentials are
// answered 401.
func (s *Sim) carrierAPI(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if d := s.Faults().Latency; d > 0 {
			t := time.NewTimer(d)
			select {
			case <-t.C:
			case <-r.Context().Done():
				t.Stop()
				return
			}
		}
		if !s.carrierAuthorized(r) {
			w.Header().Set("WWW-Authenticate", `Basic realm="OneAPI"`)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		h(w, r)
	}
}

// carrierAuthorized checks the request's credentials against the
// configured ones; with none configured, every request passes.
func (s *Sim) carrierAuthorized(r *http.Request) bool {
	c := s.cfg
	if c.CarrierUser == "" && c.CarrierPassword == "" && c.CarrierToken == "" {
		return true
	}
	if user, pass, ok := r.BasicAuth(); ok && (c.CarrierUser != "" || c.CarrierPassword != "") {
		// Both are compared, always, so the time does not tell which failed.
		u, p := equal(user, c.CarrierUser), equal(pass, c.CarrierPassword)
		return u && p
	}
	if tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok && c.CarrierToken != "" {
		return equal(tok, c.CarrierToken)
	}
	return false
}

// baseURL is the start of the resourceURLs answered to r.
func (s *Sim) baseURL(r *http.Request) string {
	if s.cfg.BaseURL != "" {
		return strings.TrimSuffix(s.cfg.BaseURL, "/")
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// pathTel returns the E.164 number of the {tel} of r's path, or answers 400.
func pathTel(w http.ResponseWriter, r *http.Request) (string, bool) {
	tel := mux.Vars(r)["tel"]
	phone, ok := parseTel(tel)
	if !ok {
		badRequest(w, fmt.Sprintf("endUserId %q in the path is not tel:+ and an E.164 number", compliance.MaskPhones(tel)))
	}
	return phone, ok
}

// servePost charges or refunds (POST .../transactions/amount).
func (s *Sim) servePost(w http.ResponseWriter, r *http.Request) {
	phone, ok := pathTel(w, r)
	if !ok {
		return
	}
	p, err := readPosting(w, r, phone)
	if err != nil {
		badRequest(w, err.Error())
		return
	}
	switch s.roll() {
	case fateError:
		internalError().write(w)
		return
	case fateDrop:
		s.hangUp(w, r)
		return
	case fateApplyThenDrop:
		s.book(p, s.baseURL(r))
		s.hangUp(w, r)
		return
	}
	out := s.book(p, s.baseURL(r))
	if out.hangUp {
		s.hangUp(w, r)
		return
	}
	out.answer.write(w)
}

// amountPattern is the shape of a wire amount: a decimal with two places.
var amountPattern = regexp.MustCompile(`^(0|[1-9][0-9]{0,9})\.[0-9]{2}$`)

// readPosting reads and validates a charge or refund posted for phone.
func readPosting(w http.ResponseWriter, r *http.Request, phone string) (posting, error) {
	var body struct {
		AmountTransaction *amountTransaction `json:"amountTransaction"`
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	if err := dec.Decode(&body); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return posting{}, errors.New("body too large")
		}
		return posting{}, fmt.Errorf("body is not a JSON amountTransaction: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return posting{}, errors.New("data after the JSON body")
	}
	t := body.AmountTransaction
	if t == nil {
		return posting{}, errors.New("amountTransaction is required")
	}
	p := posting{phone: phone, req: *t}
	p.req.ServerReferenceCode, p.req.ResourceURL = "", ""
	if t.PaymentAmount != nil {
		// What the carrier charged is for it to say.
		pa := *t.PaymentAmount
		pa.TotalAmountCharged = ""
		p.req.PaymentAmount = &pa
	}
	switch {
	case t.EndUserID != "tel:"+phone:
		return p, fmt.Errorf("endUserId %q differs from the path's tel:%s", compliance.MaskPhones(t.EndUserID), compliance.MaskPhone(phone))
	case t.ClientCorrelator == "" || len(t.ClientCorrelator) > maxKeyLength:
		return p, fmt.Errorf("clientCorrelator is required, up to %d bytes", maxKeyLength)
	case t.ReferenceCode == "" || len(t.ReferenceCode) > maxKeyLength:
		return p, fmt.Errorf("referenceCode is required, up to %d bytes", maxKeyLength)
	case len(t.OriginalServerReferenceCode) > maxKeyLength:
		return p, fmt.Errorf("originalServerReferenceCode is longer than %d bytes", maxKeyLength)
	case t.PaymentAmount == nil || t.PaymentAmount.ChargingInformation == nil:
		return p, errors.New("paymentAmount.chargingInformation is required")
	}
	switch t.TransactionOperationStatus {
	case statusCharged:
		p.kind = KindCharge
		if t.OriginalServerReferenceCode != "" {
			return p, errors.New("originalServerReferenceCode is only for refunds")
		}
	case statusRefunded:
		p.kind = KindRefund
	default:
		return p, fmt.Errorf("transactionOperationStatus %q is neither %q nor %q",
			t.TransactionOperationStatus, statusCharged, statusRefunded)
	}
	ci := t.PaymentAmount.ChargingInformation
	amount, err := parseAmount(ci.Amount)
	switch {
	case err != nil:
		return p, err
	case amount <= 0:
		return p, fmt.Errorf("amount %q is not positive", ci.Amount)
	case ci.Currency != "USD":
		return p, fmt.Errorf("currency %q is not USD", ci.Currency)
	}
	p.amount = amount
	return p, nil
}

// parseAmount reads a wire amount ("10.00") as cents.
func parseAmount(s string) (int64, error) {
	if !amountPattern.MatchString(s) {
		return 0, fmt.Errorf("amount %q is not a decimal with two places, like \"10.00\"", s)
	}
	whole, frac, _ := strings.Cut(s, ".")
	w, err := strconv.ParseInt(whole, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("amount %q: %w", s, err)
	}
	f, err := strconv.ParseInt(frac, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("amount %q: %w", s, err)
	}
	return w*100 + f, nil
}

// formatCents writes cents as a wire amount: 1000 -> "10.00", -5 -> "-0.05".
func formatCents(c int64) string {
	sign := ""
	if c < 0 {
		sign, c = "-", -c
	}
	return fmt.Sprintf("%s%d.%02d", sign, c/100, c%100)
}

// serveTransaction answers one transaction (GET its resourceURL).
func (s *Sim) serveTransaction(w http.ResponseWriter, r *http.Request) {
	phone, ok := pathTel(w, r)
	if !ok || !s.faulty(w, r) {
		return
	}
	ref := mux.Vars(r)["ref"]
	t, ok := s.transaction(phone, ref)
	if !ok {
		// A carrier's text may name the number in full; the client masks it.
		serviceError(http.StatusNotFound, "SVC0001",
			fmt.Sprintf("Service error: no transaction %s for tel:%s", ref, phone)).write(w)
		return
	}
	twilio.WriteJSON(w, http.StatusOK, transactionBody{t})
}

// serveTransactions lists a user's transactions.
func (s *Sim) serveTransactions(w http.ResponseWriter, r *http.Request) {
	phone, ok := pathTel(w, r)
	if !ok || !s.faulty(w, r) {
		return
	}
	var list struct {
		PaymentTransactionList struct {
			AmountTransaction []amountTransaction `json:"amountTransaction"`
			ResourceURL       string              `json:"resourceURL"`
		} `json:"paymentTransactionList"`
	}
	list.PaymentTransactionList.AmountTransaction = s.transactions(phone)
	list.PaymentTransactionList.ResourceURL = s.baseURL(r) + "/payment/v1/" + telPath(phone) + "/transactions"
	twilio.WriteJSON(w, http.StatusOK, list)
}

// serveLookup answers a number lookup.
func (s *Sim) serveLookup(w http.ResponseWriter, r *http.Request) {
	phone, ok := pathTel(w, r)
	if !ok || !s.faulty(w, r) {
		return
	}
	l, ok := lineOf(phone)
	switch {
	case !ok:
		// A carrier's text may name the number in full; the client masks it.
		serviceError(http.StatusNotFound, "SVC0004", "Unknown subscriber: tel:"+phone).write(w)
	case behaviourOf(phone) == lookupDown:
		serviceError(http.StatusServiceUnavailable, "SVC0001", "Service error: lookup unavailable").write(w)
	default:
		twilio.WriteJSON(w, http.StatusOK, l)
	}
}

// faulty plays the fault knobs on a request that applies nothing: it
// answers 500 or drops the connection, and returns false, when the dice
// say so.
func (s *Sim) faulty(w http.ResponseWriter, r *http.Request) bool {
	switch s.roll() {
	case fateError:
		internalError().write(w)
		return false
	case fateDrop, fateApplyThenDrop:
		s.hangUp(w, r)
		return false
	}
	return true
}

// serveLedger answers {"charges":[...]}, in the order they were applied.
func (s *Sim) serveLedger(w http.ResponseWriter, r *http.Request) {
	twilio.WriteJSON(w, http.StatusOK, struct {
		Charges []Charge `json:"charges"`
	}{s.Ledger()})
}

// serveDecline sets or lifts a forced decline: {"phone":"+1...","code":"POL0253"};
// an empty code lifts it.
func (s *Sim) serveDecline(w http.ResponseWriter, r *http.Request) {
	var d struct {
		Phone string `json:"phone"`
		Code  string `json:"code"`
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&d); err != nil {
		twilio.WriteJSON(w, http.StatusBadRequest, simError{"body is not {\"phone\",\"code\"}: " + err.Error()})
		return
	}
	phone := strings.TrimPrefix(d.Phone, "tel:")
	switch {
	case !e164.MatchString(phone):
		twilio.WriteJSON(w, http.StatusBadRequest, simError{fmt.Sprintf("phone %q is not an E.164 number", compliance.MaskPhone(d.Phone))})
		return
	case d.Code != "" && !declineCode.MatchString(d.Code):
		twilio.WriteJSON(w, http.StatusBadRequest, simError{fmt.Sprintf("code %q is not POLnnnn or SVCnnnn", d.Code)})
		return
	}
	s.Decline(phone, d.Code)
	d.Phone = phone
	twilio.WriteJSON(w, http.StatusOK, d)
}

// simError is the error body of the simulator's own endpoints.
type simError struct {
	Error string `json:"error"`
}
