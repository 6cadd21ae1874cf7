package oneapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shortcode/shortcode/carrier/oneapi"
	"github.com/shortcode/shortcode/donation"
)

const (
	phone       = "+12125550100"
	phoneDigits = "2125550100" // must never appear in an error
	chargePath  = "/payment/v1/tel:%2B12125550100/transactions/amount"
	listPath    = "/payment/v1/tel:%2B12125550100/transactions"
	lookupPath  = "/lookup/v1/tel:%2B12125550100"
	basicAuth   = "Basic dXNlcjpwYXNz" // user:pass
)

func chargeReq() donation.ChargeRequest {
	return donation.ChargeRequest{
		DonationID:    "D123",
		Correlator:    "D123-1",
		Phone:         phone,
		Amount:        1000,
		Carrier:       "SimMobile",
		CommitteeID:   "C99999999",
		CommitteeName: "Demo Committee",
	}
}

func refundReq() donation.RefundRequest {
	return donation.RefundRequest{
		DonationID:        "D123",
		Reference:         "R456",
		Correlator:        "R456-1",
		Phone:             phone,
		Amount:            1000,
		Carrier:           "SimMobile",
		OriginalServerRef: "SRV1",
		CommitteeID:       "C99999999",
		CommitteeName:     "Demo Committee",
	}
}

// wantChargeBody is the exact request body of chargeReq().
const wantChargeBody = `{"amountTransaction":{"endUserId":"tel:+12125550100","clientCorrelator":"D123-1",
 "referenceCode":"D123","transactionOperationStatus":"Charged",
 "paymentAmount":{"chargingInformation":{"amount":"10.00","currency":"USD","description":"Donation to Demo Committee"},
  "chargingMetaData":{"onBehalfOf":"Demo Committee (C99999999)","purchaseCategoryCode":"Donation","channel":"SMS"}}}}`

// wantRefundBody is the exact request body of refundReq().
const wantRefundBody = `{"amountTransaction":{"endUserId":"tel:+12125550100","clientCorrelator":"R456-1",
 "referenceCode":"R456","transactionOperationStatus":"Refunded","originalServerReferenceCode":"SRV1",
 "paymentAmount":{"chargingInformation":{"amount":"10.00","currency":"USD","description":"Refund of donation to Demo Committee"},
  "chargingMetaData":{"onBehalfOf":"Demo Committee (C99999999)","purchaseCategoryCode":"Donation"}}}}`

// echo is a carrier's answer to a transaction request.
func echo(ref, corr, status, amount, serverRef string) string {
	return fmt.Sprintf(`{"amountTransaction":{"endUserId":"tel:+12125550100","clientCorrelator":%q,"referenceCode":%q,
 "transactionOperationStatus":%q,"serverReferenceCode":%q,
 "resourceURL":"http://carrier/payment/v1/tel%%3A%%2B12125550100/transactions/amount/%s",
 "paymentAmount":{"totalAmountCharged":%q,"chargingInformation":{"amount":%q,"currency":"USD","description":"Donation to Demo Committee"}}}}`,
		corr, ref, status, serverRef, serverRef, amount, amount)
}

// requestError is a carrier's error answer.
func requestError(kind, id, text string, vars ...string) string {
	b, _ := json.Marshal(map[string]any{"requestError": map[string]any{
		kind: map[string]any{"messageId": id, "text": text, "variables": vars},
	}})
	return string(b)
}

// checkRequest reports how r differs from the expected request.
func checkRequest(t *testing.T, r *http.Request, method, path, auth, wantBody string) {
	t.Helper()
	if r.Method != method {
		t.Errorf("method = %s, want %s", r.Method, method)
	}
	if got := r.URL.EscapedPath(); got != path {
		t.Errorf("path = %s, want %s", got, path)
	}
	if got := r.Header.Get("Authorization"); got != auth {
		t.Errorf("Authorization = %q, want %q", got, auth)
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		t.Errorf("reading request body: %v", err)
		return
	}
	if wantBody == "" {
		if len(body) != 0 {
			t.Errorf("body = %s, want none", body)
		}
		return
	}
	if got := r.Header.Get("Content-Type"); got != "application/json" {
		t.Errorf("Content-Type = %q, want application/json", got)
	}
	var got, want any
	if err := json.Unmarshal(body, &got); err != nil {
		t.Errorf("request body %s: %v", body, err)
		return
	}
	if err := json.Unmarshal([]byte(wantBody), &want); err != nil {
		t.Fatalf("bad wantBody: %v", err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("body =\n%s\nwant\n%s", body, wantBody)
	}
}

// reply is a canned answer.
type reply struct {
	status int
	body   string
}

// serve starts a carrier that checks each request and answers with rep.
func serve(t *testing.T, method, path, wantBody string, rep reply) (*oneapi.Client, *atomic.Int32) {
	t.Helper()
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		checkRequest(t, r, method, path, basicAuth, wantBody)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(rep.status)
		io.WriteString(w, rep.body)
	}))
	t.Cleanup(srv.Close)
	return &oneapi.Client{BaseURL: srv.URL + "/", Username: "user", Password: "pass"}, &hits
}

// checkErr reports whether err matches want: nil, a sentinel, or errAny.
func checkErr(t *testing.T, err, want error) {
	t.Helper()
	switch {
	case want == nil && err != nil:
		t.Errorf("err = %v, want nil", err)
	case want == nil:
	case err == nil:
		t.Errorf("err = nil, want %v", want)
	case want != errAny && !errors.Is(err, want):
		t.Errorf("err = %v, want %v", err, want)
	}
	if err != nil && showsPhone(err.Error()) {
		t.Errorf("err %q shows the phone number", err)
	}
}

// showsPhone reports whether s shows 7 digits of phone in a row, however
// punctuated.
func showsPhone(s string) bool {
	s = strings.Map(func(r rune) rune {
		if strings.ContainsRune(" ().-", r) {
			return -1
		}
		return r
	}, s)
	digits := strings.TrimPrefix(phone, "+")
	for i := 0; i+7 <= len(digits); i++ {
		if strings.Contains(s, digits[i:i+7]) {
			return true
		}
	}
	return false
}

var errAny = errors.New("any error")

var huge = `{"amountTransaction":{"referenceCode":"D123","transactionOperationStatus":"Charged","serverReferenceCode":"SRV1"}}` +
	strings.Repeat(" ", 2<<20)

func TestCharge(t *testing.T) {
	tests := []struct {
		name string
		rep  reply
		want donation.ChargeResult
		err  error
	}{
		{"charged", reply{201, echo("D123", "D123-1", "Charged", "10.00", "SRV1")},
			donation.ChargeResult{Outcome: donation.Charged, ServerRef: "SRV1"}, nil},
		{"charged without echoed amounts", reply{201, `{"amountTransaction":{"transactionOperationStatus":"Charged","serverReferenceCode":"SRV1"}}`},
			donation.ChargeResult{Outcome: donation.Charged, ServerRef: "SRV1"}, nil},
		{"processing", reply{202, echo("D123", "D123-1", "Processing", "10.00", "")},
			donation.ChargeResult{Outcome: donation.Unknown}, nil},

		{"POL1000", reply{403, requestError("policyException", "POL1000", "The subscriber has insufficient credit: %1", "prepaid")},
			declined("POL1000", "insufficient_credit: The subscriber has insufficient credit: prepaid"), nil},
		{"POL1001", reply{403, requestError("policyException", "POL1001", "Spending limit exceeded: %1", "monthly")},
			declined("POL1001", "spending_limit: Spending limit exceeded: monthly"), nil},
		{"POL0254", reply{403, requestError("policyException", "POL0254", "Amount %1 exceeds the single charge limit of %2", "10.00", "5.00")},
			declined("POL0254", "over_charge_limit: Amount 10.00 exceeds the single charge limit of 5.00"), nil},
		{"POL0253", reply{403, requestError("policyException", "POL0253", "Charge refused by the user")},
			declined("POL0253", "refused_by_user: Charge refused by the user"), nil},
		{"POL0001 blocked", reply{403, requestError("policyException", "POL0001", "A policy error occurred: %1", "premium billing blocked")},
			declined("POL0001", "billing_blocked: A policy error occurred: premium billing blocked"), nil},
		{"POL0001 business", reply{403, requestError("policyException", "POL0001", "A policy error occurred: %1", "business-liable account")},
			declined("POL0001", "billing_blocked: A policy error occurred: business-liable account"), nil},
		{"SVC0270", reply{400, requestError("serviceException", "SVC0270", "Charging failed: %1", "reason")},
			declined("SVC0270", "charging_failed: Charging failed: reason"), nil},
		{"SVC0004 masks the number", reply{400, requestError("serviceException", "SVC0004", "No valid addresses provided in message part %1", "tel:+12125550100")},
			declined("SVC0004", "unknown_subscriber: No valid addresses provided in message part tel:+1******0100"), nil},
		{"SVC0004 masks the number in any form", reply{400, requestError("serviceException", "SVC0004", "No such subscriber %1, or %2", "(212) 555-0100", "2125550100")},
			declined("SVC0004", "unknown_subscriber: No such subscriber (2********0100, or 21****0100"), nil},
		{"other code", reply{400, requestError("serviceException", "SVC0001", "A service error occurred: %1", "whatever")},
			declined("SVC0001", "declined: A service error occurred: whatever"), nil},
		{"no text", reply{403, requestError("policyException", "POL1000", "")},
			declined("POL1000", "insufficient_credit"), nil},
		{"placeholders", reply{403, requestError("policyException", "POL1001", "%2/%1 %3 %12 100%", "a", "b")},
			declined("POL1001", "spending_limit: b/a %3 a2 100%"), nil},

		{"SVC0002", reply{400, requestError("serviceException", "SVC0002", "Invalid input value for message part %1", "referenceCode")},
			donation.ChargeResult{Outcome: donation.Unknown}, oneapi.ErrReferenceReused},
		{"401", reply{401, ""}, donation.ChargeResult{Outcome: donation.Unknown}, oneapi.ErrUnauthorized},
		{"500", reply{500, "internal error for +12125550100"}, donation.ChargeResult{Outcome: donation.Unknown}, errAny},
		{"500 names the number in other forms", reply{500, "internal error for tel:+1-212-555-0100, msisdn 2125550100"},
			donation.ChargeResult{Outcome: donation.Unknown}, errAny},
		{"503 names the number in its requestError", reply{503, requestError("serviceException", "SVC0001", "Service error: %1", "tel:+1 212 555 0100")},
			donation.ChargeResult{Outcome: donation.Unknown}, errAny},
		{"503 with requestError", reply{503, requestError("serviceException", "SVC0270", "Charging failed: %1", "down")},
			donation.ChargeResult{Outcome: donation.Unknown}, errAny},
		{"404 with requestError", reply{404, requestError("serviceException", "SVC0004", "no such user")},
			donation.ChargeResult{Outcome: donation.Unknown}, errAny},
		{"302 is not followed", reply{302, ""}, donation.ChargeResult{Outcome: donation.Unknown}, errAny},
		{"400 not JSON", reply{400, "<html>Bad Request</html>"}, donation.ChargeResult{Outcome: donation.Unknown}, oneapi.ErrMalformed},
		{"403 without requestError", reply{403, `{"error":"forbidden"}`}, donation.ChargeResult{Outcome: donation.Unknown}, oneapi.ErrMalformed},
		{"400 without messageId", reply{400, `{"requestError":{"serviceException":{"text":"x"}}}`}, donation.ChargeResult{Outcome: donation.Unknown}, oneapi.ErrMalformed},
		{"400 with numeric variables", reply{400, `{"requestError":{"serviceException":{"messageId":"SVC0270","text":"%1","variables":[1]}}}`},
			donation.ChargeResult{Outcome: donation.Unknown}, oneapi.ErrMalformed},
		{"201 malformed JSON", reply{201, `{"amountTransaction":{`}, donation.ChargeResult{Outcome: donation.Unknown}, oneapi.ErrMalformed},
		{"201 empty", reply{201, ""}, donation.ChargeResult{Outcome: donation.Unknown}, oneapi.ErrMalformed},
		{"201 wrong shape", reply{201, `[]`}, donation.ChargeResult{Outcome: donation.Unknown}, oneapi.ErrMalformed},
		{"201 no amountTransaction", reply{201, `{}`}, donation.ChargeResult{Outcome: donation.Unknown}, oneapi.ErrMalformed},
		{"201 trailing garbage", reply{201, echo("D123", "D123-1", "Charged", "10.00", "SRV1") + "x"},
			donation.ChargeResult{Outcome: donation.Unknown}, oneapi.ErrMalformed},
		{"201 no serverReferenceCode", reply{201, echo("D123", "D123-1", "Charged", "10.00", "")},
			donation.ChargeResult{Outcome: donation.Unknown}, oneapi.ErrMalformed},
		{"201 other reference", reply{201, echo("D999", "D123-1", "Charged", "10.00", "SRV1")},
			donation.ChargeResult{Outcome: donation.Unknown}, oneapi.ErrMalformed},
		{"201 other amount", reply{201, echo("D123", "D123-1", "Charged", "100.00", "SRV1")},
			donation.ChargeResult{Outcome: donation.Unknown}, oneapi.ErrMalformed},
		{"201 bad amount", reply{201, echo("D123", "D123-1", "Charged", "10", "SRV1")},
			donation.ChargeResult{Outcome: donation.Unknown}, oneapi.ErrMalformed},
		{"201 other currency", reply{201, strings.Replace(echo("D123", "D123-1", "Charged", "10.00", "SRV1"), "USD", "EUR", 1)},
			donation.ChargeResult{Outcome: donation.Unknown}, oneapi.ErrMalformed},
		{"201 status Denied is no decline", reply{201, echo("D123", "D123-1", "Denied", "10.00", "SRV1")},
			donation.ChargeResult{Outcome: donation.Unknown}, oneapi.ErrMalformed},
		{"huge body", reply{201, huge}, donation.ChargeResult{Outcome: donation.Unknown}, oneapi.ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, hits := serve(t, http.MethodPost, chargePath, wantChargeBody, tt.rep)
			got, err := c.Charge(context.Background(), chargeReq())
			checkErr(t, err, tt.err)
			if got != tt.want {
				t.Errorf("result = %+v, want %+v", got, tt.want)
			}
			if n := hits.Load(); n != 1 {
				t.Errorf("%d requests, want 1", n)
			}
		})
	}
}

func declined(code, reason string) donation.ChargeResult {
	return donation.ChargeResult{Outcome: donation.ChargeDeclined, Code: code, Reason: reason}
}

func TestChargeChannel(t *testing.T) {
	req := chargeReq()
	req.Channel = "WEB"
	want := strings.Replace(wantChargeBody, `"channel":"SMS"`, `"channel":"WEB"`, 1)
	c, _ := serve(t, http.MethodPost, chargePath, want, reply{201, echo("D123", "D123-1", "Charged", "10.00", "SRV1")})
	if _, err := c.Charge(context.Background(), req); err != nil {
		t.Fatal(err)
	}
}

func TestChargeInvalidRequest(t *testing.T) {
	tests := []struct {
		name string
		edit func(*donation.ChargeRequest)
	}{
		{"no donation id", func(r *donation.ChargeRequest) { r.DonationID = "" }},
		{"no correlator", func(r *donation.ChargeRequest) { r.Correlator = "" }},
		{"zero amount", func(r *donation.ChargeRequest) { r.Amount = 0 }},
		{"negative amount", func(r *donation.ChargeRequest) { r.Amount = -1000 }},
		{"no plus", func(r *donation.ChargeRequest) { r.Phone = "12125550100" }},
		{"not digits", func(r *donation.ChargeRequest) { r.Phone = "+1212/../0100" }},
		{"too long", func(r *donation.ChargeRequest) { r.Phone = "+12125550100123456" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, hits := serve(t, http.MethodPost, chargePath, wantChargeBody, reply{500, ""})
			req := chargeReq()
			tt.edit(&req)
			got, err := c.Charge(context.Background(), req)
			checkErr(t, err, errAny)
			if got.Outcome != donation.Unknown {
				t.Errorf("outcome = %s, want unknown", got.Outcome)
			}
			if n := hits.Load(); n != 0 {
				t.Errorf("%d requests, want none", n)
			}
		})
	}

	var c oneapi.Client // no BaseURL
	if got, err := c.Charge(context.Background(), chargeReq()); err == nil || got.Outcome != donation.Unknown {
		t.Errorf("unconfigured client: %+v, %v; want unknown and an error", got, err)
	}
}

func TestChargeTimeout(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
		w.WriteHeader(201)
		io.WriteString(w, echo("D123", "D123-1", "Charged", "10.00", "SRV1"))
	}))
	defer srv.Close()
	defer close(release)

	t.Run("client timeout", func(t *testing.T) {
		c := &oneapi.Client{BaseURL: srv.URL, HTTP: &http.Client{Timeout: 50 * time.Millisecond}}
		got, err := c.Charge(context.Background(), chargeReq())
		checkErr(t, err, errAny)
		var ne net.Error
		if !errors.As(err, &ne) || !ne.Timeout() {
			t.Errorf("err = %v, want a timeout", err)
		}
		if got.Outcome != donation.Unknown {
			t.Errorf("outcome = %s, want unknown", got.Outcome)
		}
	})
	t.Run("context deadline", func(t *testing.T) {
		c := &oneapi.Client{BaseURL: srv.URL}
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		got, err := c.Charge(ctx, chargeReq())
		checkErr(t, err, context.DeadlineExceeded)
		if got.Outcome != donation.Unknown {
			t.Errorf("outcome = %s, want unknown", got.Outcome)
		}
	})
}

func TestChargeBrokenConnection(t *testing.T) {
	tests := []struct {
		name    string
		partial string // what the carrier writes before it hangs up
	}{
		{"nothing", ""},
		{"headers only", "HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nContent-Length: 400\r\n\r\n"},
		{"half a body", "HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nContent-Length: 400\r\n\r\n" +
			`{"amountTransaction":{"referenceCode":"D123","transactionOperationStatus":"Charged"`},
		{"half a chunked body", "HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n" +
			"20\r\n{\"amountTransaction\":{\"reference"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				io.Copy(io.Discard, r.Body)
				conn, buf, err := http.NewResponseController(w).Hijack()
				if err != nil {
					t.Errorf("hijack: %v", err)
					return
				}
				buf.WriteString(tt.partial)
				buf.Flush()
				conn.Close()
			}))
			defer srv.Close()
			c := &oneapi.Client{BaseURL: srv.URL}
			got, err := c.Charge(context.Background(), chargeReq())
			checkErr(t, err, errAny)
			if got.Outcome != donation.Unknown {
				t.Errorf("outcome = %s, want unknown", got.Outcome)
			}
		})
	}
}

func TestChargeConnectionRefused(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	base := srv.URL
	srv.Close()
	c := &oneapi.Client{BaseURL: base}
	got, err := c.Charge(context.Background(), chargeReq())
	checkErr(t, err, errAny)
	if got.Outcome != donation.Unknown {
		t.Errorf("outcome = %s, want unknown", got.Outcome)
	}
}

func TestAuth(t *testing.T) {
	tests := []struct {
		name   string
		client oneapi.Client
		want   string
	}{
		{"basic", oneapi.Client{Username: "user", Password: "pass"}, basicAuth},
		{"bearer", oneapi.Client{Token: "tok-1"}, "Bearer tok-1"},
		{"bearer wins", oneapi.Client{Token: "tok-1", Username: "user", Password: "pass"}, "Bearer tok-1"},
		{"none", oneapi.Client{}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				checkRequest(t, r, http.MethodPost, chargePath, tt.want, wantChargeBody)
				w.WriteHeader(201)
				io.WriteString(w, echo("D123", "D123-1", "Charged", "10.00", "SRV1"))
			}))
			defer srv.Close()
			c := tt.client
			c.BaseURL = srv.URL
			if _, err := c.Charge(context.Background(), chargeReq()); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestConcurrentCharges(t *testing.T) {
	c, hits := serve(t, http.MethodPost, chargePath, wantChargeBody, reply{201, echo("D123", "D123-1", "Charged", "10.00", "SRV1")})
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if got, err := c.Charge(context.Background(), chargeReq()); err != nil || got.Outcome != donation.Charged {
				t.Errorf("Charge = %+v, %v", got, err)
			}
		})
	}
	wg.Wait()
	if n := hits.Load(); n != 8 {
		t.Errorf("%d requests, want 8", n)
	}
}

// list is a carrier's transaction list.
func list(txs ...string) string {
	return `{"paymentTransactionList":{"amountTransaction":[` + strings.Join(txs, ",") +
		`],"resourceURL":"http://carrier/payment/v1/tel%3A%2B12125550100/transactions"}}`
}

func listed(ref, status, amount, serverRef string) string {
	var e struct {
		AmountTransaction json.RawMessage `json:"amountTransaction"`
	}
	if err := json.Unmarshal([]byte(echo(ref, ref+"-1", status, amount, serverRef)), &e); err != nil {
		panic(err)
	}
	return string(e.AmountTransaction)
}

func TestStatus(t *testing.T) {
	other := listed("D001", "Charged", "5.00", "SRV0")
	refund := listed("R001", "Refunded", "5.00", "SRV00")
	tests := []struct {
		name string
		rep  reply
		want donation.ChargeResult
		err  error
	}{
		{"found charged", reply{200, list(other, listed("D123", "Charged", "10.00", "SRV1"), refund)},
			donation.ChargeResult{Outcome: donation.Charged, ServerRef: "SRV1"}, nil},
		{"found other status", reply{200, list(other, listed("D123", "Denied", "10.00", "SRV1"))},
			donation.ChargeResult{Outcome: donation.ChargeDeclined, Reason: "status Denied"}, nil},
		{"found processing", reply{200, list(listed("D123", "Processing", "10.00", ""))},
			donation.ChargeResult{Outcome: donation.Unknown}, nil},
		{"charged wins", reply{200, list(listed("D123", "Denied", "10.00", "SRV0"), listed("D123", "Charged", "10.00", "SRV1"))},
			donation.ChargeResult{Outcome: donation.Charged, ServerRef: "SRV1"}, nil},
		{"not found", reply{200, list(other, refund)}, donation.ChargeResult{Outcome: donation.NotCharged}, nil},
		{"empty list", reply{200, list()}, donation.ChargeResult{Outcome: donation.NotCharged}, nil},
		{"list without transactions", reply{200, `{"paymentTransactionList":{}}`}, donation.ChargeResult{Outcome: donation.NotCharged}, nil},

		{"amount mismatch", reply{200, list(listed("D123", "Charged", "100.00", "SRV1"))},
			donation.ChargeResult{Outcome: donation.Unknown}, oneapi.ErrMalformed},
		{"charged without amount", reply{200, list(`{"referenceCode":"D123","transactionOperationStatus":"Charged","serverReferenceCode":"SRV1"}`)},
			donation.ChargeResult{Outcome: donation.Unknown}, oneapi.ErrMalformed},
		{"charged without serverReferenceCode", reply{200, list(listed("D123", "Charged", "10.00", ""))},
			donation.ChargeResult{Outcome: donation.Unknown}, oneapi.ErrMalformed},
		{"entry without reference", reply{200, list(`{"transactionOperationStatus":"Charged"}`)},
			donation.ChargeResult{Outcome: donation.Unknown}, oneapi.ErrMalformed},
		{"500", reply{500, ""}, donation.ChargeResult{Outcome: donation.Unknown}, errAny},
		{"503", reply{503, "busy"}, donation.ChargeResult{Outcome: donation.Unknown}, errAny},
		{"404", reply{404, ""}, donation.ChargeResult{Outcome: donation.Unknown}, errAny},
		{"400 requestError is no decline", reply{400, requestError("serviceException", "SVC0004", "unknown %1", phone)},
			donation.ChargeResult{Outcome: donation.Unknown}, errAny},
		{"401", reply{401, ""}, donation.ChargeResult{Outcome: donation.Unknown}, oneapi.ErrUnauthorized},
		{"malformed", reply{200, `{"paymentTransactionList":`}, donation.ChargeResult{Outcome: donation.Unknown}, oneapi.ErrMalformed},
		{"no list", reply{200, `{}`}, donation.ChargeResult{Outcome: donation.Unknown}, oneapi.ErrMalformed},
		{"object for array", reply{200, `{"paymentTransactionList":{"amountTransaction":{"referenceCode":"D123"}}}`},
			donation.ChargeResult{Outcome: donation.Unknown}, oneapi.ErrMalformed},
		{"huge body", reply{200, list() + strings.Repeat("\n", 2<<20)}, donation.ChargeResult{Outcome: donation.Unknown}, oneapi.ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, hits := serve(t, http.MethodGet, listPath, "", tt.rep)
			got, err := c.Status(context.Background(), chargeReq())
			checkErr(t, err, tt.err)
			if got != tt.want {
				t.Errorf("result = %+v, want %+v", got, tt.want)
			}
			if n := hits.Load(); n != 1 {
				t.Errorf("%d requests, want 1", n)
			}
		})
	}
}

func TestRefund(t *testing.T) {
	refunded := func(status int) reply {
		b := echo("R456", "R456-1", "Refunded", "10.00", "SRV2")
		return reply{status, b}
	}
	tests := []struct {
		name string
		rep  reply
		want donation.RefundResult
		err  error
	}{
		{"201", refunded(201), donation.RefundResult{Outcome: donation.Charged, ServerRef: "SRV2"}, nil},
		{"200", refunded(200), donation.RefundResult{Outcome: donation.Charged, ServerRef: "SRV2"}, nil},
		{"POL1005", reply{403, requestError("policyException", "POL1005", "Original transaction missing: %1", "originalServerReferenceCode")},
			donation.RefundResult{Outcome: donation.ChargeDeclined, Code: "POL1005",
				Reason: "missing_original: Original transaction missing: originalServerReferenceCode"}, nil},
		{"SVC0001", reply{400, requestError("serviceException", "SVC0001", "A service error occurred: %1", "already refunded")},
			donation.RefundResult{Outcome: donation.ChargeDeclined, Code: "SVC0001", Reason: "declined: A service error occurred: already refunded"}, nil},
		{"SVC0002", reply{400, requestError("serviceException", "SVC0002", "Invalid input value: %1", "referenceCode")},
			donation.RefundResult{Outcome: donation.Unknown}, oneapi.ErrReferenceReused},
		{"500", reply{500, ""}, donation.RefundResult{Outcome: donation.Unknown}, errAny},
		{"401", reply{401, ""}, donation.RefundResult{Outcome: donation.Unknown}, oneapi.ErrUnauthorized},
		{"202 pending", reply{202, echo("R456", "R456-1", "Processing", "10.00", "")}, donation.RefundResult{Outcome: donation.Unknown}, errAny},
		{"201 Charged is no refund", reply{201, echo("R456", "R456-1", "Charged", "10.00", "SRV2")},
			donation.RefundResult{Outcome: donation.Unknown}, oneapi.ErrMalformed},
		{"201 other reference", reply{201, echo("D123", "R456-1", "Refunded", "10.00", "SRV2")},
			donation.RefundResult{Outcome: donation.Unknown}, oneapi.ErrMalformed},
		{"201 other amount", reply{201, echo("R456", "R456-1", "Refunded", "1.00", "SRV2")},
			donation.RefundResult{Outcome: donation.Unknown}, oneapi.ErrMalformed},
		{"201 malformed", reply{201, `{"amountTransaction":`}, donation.RefundResult{Outcome: donation.Unknown}, oneapi.ErrMalformed},
		{"201 no serverReferenceCode", reply{201, echo("R456", "R456-1", "Refunded", "10.00", "")},
			donation.RefundResult{Outcome: donation.Unknown}, oneapi.ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, hits := serve(t, http.MethodPost, chargePath, wantRefundBody, tt.rep)
			got, err := c.Refund(context.Background(), refundReq())
			checkErr(t, err, tt.err)
			if got != tt.want {
				t.Errorf("result = %+v, want %+v", got, tt.want)
			}
			if n := hits.Load(); n != 1 {
				t.Errorf("%d requests, want 1", n)
			}
		})
	}
}

func TestRefundWithoutOriginal(t *testing.T) {
	req := refundReq()
	req.OriginalServerRef = ""
	want := strings.Replace(wantRefundBody, `"originalServerReferenceCode":"SRV1",`, "", 1)
	c, _ := serve(t, http.MethodPost, chargePath, want,
		reply{403, requestError("policyException", "POL1005", "originalServerReferenceCode missing")})
	got, err := c.Refund(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if got.Outcome != donation.ChargeDeclined || got.Code != "POL1005" {
		t.Errorf("result = %+v, want declined POL1005", got)
	}
}

func TestLookup(t *testing.T) {
	tests := []struct {
		name string
		rep  reply
		want donation.Line
		err  error
	}{
		{"postpaid", reply{200, `{"country":"US","carrier":"SimMobile","lineType":"postpaid"}`},
			donation.Line{Country: "US", Carrier: "SimMobile", Type: donation.Postpaid}, nil},
		{"prepaid", reply{200, `{"country":"US","carrier":"SimMobile","lineType":"prepaid"}`},
			donation.Line{Country: "US", Carrier: "SimMobile", Type: donation.Prepaid}, nil},
		{"business", reply{200, `{"country":"US","carrier":"SimMobile","lineType":"business"}`},
			donation.Line{Country: "US", Carrier: "SimMobile", Type: donation.Business}, nil},
		{"landline", reply{200, `{"country":"CA","carrier":"Other","lineType":"landline"}`},
			donation.Line{Country: "CA", Carrier: "Other", Type: donation.Landline}, nil},
		{"bad lineType", reply{200, `{"country":"US","carrier":"SimMobile","lineType":"mobile"}`}, donation.Line{}, oneapi.ErrMalformed},
		{"no lineType", reply{200, `{"country":"US","carrier":"SimMobile"}`}, donation.Line{}, oneapi.ErrMalformed},
		{"no country", reply{200, `{"carrier":"SimMobile","lineType":"postpaid"}`}, donation.Line{}, oneapi.ErrMalformed},
		{"malformed", reply{200, `{"country":"US",`}, donation.Line{}, oneapi.ErrMalformed},
		{"wrong types", reply{200, `{"country":1,"carrier":"SimMobile","lineType":"postpaid"}`}, donation.Line{}, oneapi.ErrMalformed},
		{"huge", reply{200, `{"country":"US","carrier":"SimMobile","lineType":"postpaid"}` + strings.Repeat(" ", 2<<20)}, donation.Line{}, oneapi.ErrMalformed},
		{"503", reply{503, `{"country":"US","carrier":"SimMobile","lineType":"postpaid"}`}, donation.Line{}, errAny},
		{"404", reply{404, ""}, donation.Line{}, errAny},
		{"401", reply{401, ""}, donation.Line{}, oneapi.ErrUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, hits := serve(t, http.MethodGet, lookupPath, "", tt.rep)
			got, err := c.Lookup(context.Background(), phone)
			checkErr(t, err, tt.err)
			if got != tt.want {
				t.Errorf("line = %+v, want %+v", got, tt.want)
			}
			if n := hits.Load(); n != 1 {
				t.Errorf("%d requests, want 1", n)
			}
		})
	}

	t.Run("invalid number", func(t *testing.T) {
		c, hits := serve(t, http.MethodGet, lookupPath, "", reply{200, `{"country":"US","carrier":"SimMobile","lineType":"postpaid"}`})
		if _, err := c.Lookup(context.Background(), "2125550100"); err == nil {
			t.Error("err = nil, want an error")
		}
		if n := hits.Load(); n != 0 {
			t.Errorf("%d requests, want none", n)
		}
	})
}

func TestClassify(t *testing.T) {
	tests := []struct{ code, want string }{
		{"POL1000", "insufficient_credit"},
		{"POL1001", "spending_limit"},
		{"POL0254", "over_charge_limit"},
		{"POL0253", "refused_by_user"},
		{"POL0001", "billing_blocked"},
		{"SVC0270", "charging_failed"},
		{"SVC0004", "unknown_subscriber"},
		{"POL1005", "missing_original"},
		{"SVC0001", "declined"},
		{"SVC0002", "declined"},
		{"pol1000", "declined"},
		{"", "declined"},
	}
	for _, tt := range tests {
		if got := oneapi.Classify(tt.code); got != tt.want {
			t.Errorf("Classify(%q) = %q, want %q", tt.code, got, tt.want)
		}
	}
}

// TestNoPanicOnHostileAnswers feeds odd answers to every method.
func TestNoPanicOnHostileAnswers(t *testing.T) {
	bodies := []string{
		"", "null", "[]", "0", `"x"`, "{", `{"amountTransaction":null}`, `{"amountTransaction":{"paymentAmount":null}}`,
		`{"amountTransaction":{"paymentAmount":{"chargingInformation":null}}}`,
		`{"paymentTransactionList":null}`, `{"paymentTransactionList":{"amountTransaction":[null]}}`,
		`{"requestError":null}`, `{"requestError":{"serviceException":null,"policyException":null}}`,
		`{"requestError":{"policyException":{"messageId":"POL1001","text":"%","variables":null}}}`,
		`{"requestError":{"policyException":{"messageId":"POL1001","text":"%99999999999999999999999","variables":["a"]}}}`,
		"\xff\xfe", string(bytes.Repeat([]byte("%1"), 1<<18)),
	}
	for _, status := range []int{200, 201, 202, 400, 403, 404, 500} {
		for _, body := range bodies {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(status)
				io.WriteString(w, body)
			}))
			c := &oneapi.Client{BaseURL: srv.URL}
			ctx := context.Background()
			if r, err := c.Charge(ctx, chargeReq()); err == nil && r.Outcome == donation.Charged {
				t.Errorf("HTTP %d %.40q: Charge = %+v", status, body, r)
			}
			c.Status(ctx, chargeReq())
			c.Refund(ctx, refundReq())
			c.Lookup(ctx, phone)
			srv.Close()
		}
	}
}
