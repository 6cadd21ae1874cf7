package oneapi_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/shortcode/shortcode/carrier/oneapi"
	"github.com/shortcode/shortcode/donation"
)

// answerer is a transport that gives every request one canned answer.
type answerer struct {
	status int
	body   []byte
}

func (a answerer) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		r.Body.Close()
	}
	return &http.Response{StatusCode: a.status, Header: http.Header{"Content-Type": {"application/json"}},
		Body: io.NopCloser(strings.NewReader(string(a.body))), Request: r}, nil
}

// fuzzDecline restates SPEC §12.2's decline: a requestError in a 400 or
// 403 answer with a messageId (the policy exception's, but a 400's service
// exception's first), other than SVC0002, a reused reference. It returns
// that messageId, or "" when the answer is no decline.
func fuzzDecline(status int, body []byte) string {
	type exception struct {
		MessageID string `json:"messageId"`
	}
	var e struct {
		RequestError *struct {
			ServiceException *exception `json:"serviceException"`
			PolicyException  *exception `json:"policyException"`
		} `json:"requestError"`
	}
	if (status != 400 && status != 403) || json.Unmarshal(body, &e) != nil || e.RequestError == nil {
		return ""
	}
	ex := e.RequestError.PolicyException
	if ex == nil || status == 400 && e.RequestError.ServiceException != nil {
		ex = e.RequestError.ServiceException
	}
	if ex == nil || ex.MessageID == "" || ex.MessageID == "SVC0002" {
		return ""
	}
	return ex.MessageID
}

// FuzzAnswers: whatever a carrier answers (any status, any body), the
// client never panics and never reports an unknown outcome as a decline
// or a charge: a charge or refund is declined exactly when the answer is a
// decline (fuzzDecline), with its messageId as the code and the taxonomy
// as the reason; a status query declines or finds nothing only on a 200;
// charged needs a 2xx and a server reference; every other outcome is
// Unknown with an error (but a pending charge's). No error or reason shows
// the phone number.
func FuzzAnswers(f *testing.F) {
	for _, a := range []struct {
		status int
		body   string
	}{
		{201, echo("D123", "D123-1", "Charged", "10.00", "SRV1")},
		{200, echo("D123", "D123-1", "Charged", "10.00", "")},
		{200, echo("D999", "D123-1", "Charged", "10.00", "SRV1")},
		{200, echo("D123", "D123-1", "Charged", "1.00", "SRV1")},
		{202, echo("D123", "D123-1", "Processing", "", "")},
		{201, echo("R456", "R456-1", "Refunded", "10.00", "SRV2")},
		{400, requestError("policyException", "POL1000", "Insufficient credit for %1", phone)},
		{403, requestError("policyException", "POL0253", "Refused %1 %2 %12", "a", phone)},
		{400, requestError("serviceException", "SVC0002", "Reference reused")},
		{400, requestError("serviceException", "", "no id")},
		{403, `{"requestError":{"serviceException":{"messageId":"SVC0270"},"policyException":{"messageId":"POL0001"}}}`},
		{500, requestError("serviceException", "SVC0001", "Internal error for "+phone)},
		{401, `{}`},
		{503, "<html>" + phone + "</html>"},
		{200, `{"paymentTransactionList":{"amountTransaction":[{"referenceCode":"D123","transactionOperationStatus":"Charged","serverReferenceCode":"SRV1","paymentAmount":{"totalAmountCharged":"10.00"}}]}}`},
		{200, `{"paymentTransactionList":{"amountTransaction":[{"referenceCode":"D123","transactionOperationStatus":"Denied"}]}}`},
		{200, `{"paymentTransactionList":{"amountTransaction":[]}}`},
		{200, `{"paymentTransactionList":null}`},
		{200, `{"country":"US","carrier":"SimMobile","lineType":"postpaid"}`},
		{200, `{"country":"","carrier":"SimMobile","lineType":"prepaid"}`},
		{302, ``},
		{400, `not json`},
	} {
		f.Add(uint16(a.status), []byte(a.body))
	}
	f.Fuzz(func(t *testing.T, status uint16, body []byte) {
		code := int(status%500) + 100
		c := &oneapi.Client{BaseURL: "http://carrier.test", Username: "user", Password: "pass",
			HTTP: &http.Client{Transport: answerer{code, body}}}
		ctx := context.Background()
		decline := fuzzDecline(code, body)
		masked := func(what string, s string) {
			if strings.Contains(s, phoneDigits) {
				t.Fatalf("%s of HTTP %d %q shows the phone number: %s", what, code, body, s)
			}
		}

		// A charge and a refund: declined exactly on a decline.
		charge, err := c.Charge(ctx, chargeReq())
		refund, rerr := c.Refund(ctx, refundReq())
		for _, o := range []struct {
			what              string
			outcome           donation.Outcome
			code, reason, ref string
			err               error
			charged           bool // the status codes a result may have
		}{
			{"charge", charge.Outcome, charge.Code, charge.Reason, charge.ServerRef, err, code >= 200 && code < 300},
			{"refund", refund.Outcome, refund.Code, refund.Reason, refund.ServerRef, rerr, code == 200 || code == 201},
		} {
			if o.err != nil {
				masked(o.what+" error", o.err.Error())
			}
			masked(o.what+" reason", o.reason)
			switch o.outcome {
			case donation.ChargeDeclined:
				if decline == "" || o.err != nil || !strings.HasPrefix(decline, strings.TrimSuffix(o.code, "…")) ||
					!strings.HasPrefix(o.reason, oneapi.Classify(decline)) {
					t.Fatalf("%s of HTTP %d %q: declined %q %q, %v; want no decline (%q)", o.what, code, body, o.code, o.reason, o.err, decline)
				}
			case donation.Charged:
				if !o.charged || o.err != nil || o.ref == "" || decline != "" {
					t.Fatalf("%s of HTTP %d %q: charged %q, %v", o.what, code, body, o.ref, o.err)
				}
			case donation.Unknown:
				if decline != "" {
					t.Fatalf("%s of HTTP %d %q: unknown, %v; want declined %s", o.what, code, body, o.err, decline)
				}
				if o.err == nil && (o.what == "refund" || code < 200 || code > 299) {
					t.Fatalf("%s of HTTP %d %q: unknown without an error", o.what, code, body)
				}
			default:
				t.Fatalf("%s of HTTP %d %q: outcome %q", o.what, code, body, o.outcome)
			}
		}

		// A status query reads only a 200's list.
		st, err := c.Status(ctx, chargeReq())
		if err != nil {
			masked("status error", err.Error())
		}
		masked("status reason", st.Reason)
		switch st.Outcome {
		case donation.ChargeDeclined, donation.NotCharged, donation.Charged:
			if code != 200 || err != nil || st.Outcome == donation.Charged && st.ServerRef == "" {
				t.Fatalf("status of HTTP %d %q: %+v, %v", code, body, st, err)
			}
		case donation.Unknown:
		default:
			t.Fatalf("status of HTTP %d %q: outcome %q", code, body, st.Outcome)
		}

		line, err := c.Lookup(ctx, phone)
		if err != nil {
			masked("lookup error", err.Error())
		} else if code != 200 || line.Country == "" ||
			!strings.Contains(" postpaid prepaid business landline ", " "+string(line.Type)+" ") {
			t.Fatalf("lookup of HTTP %d %q: %+v", code, body, line)
		}
	})
}
