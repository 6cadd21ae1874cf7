package sim_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shortcode/shortcode/carrier/sim"
)

// testTimeout is the simulator's Timeout in the carrier tests.
const testTimeout = 50 * time.Millisecond

// startCarrier serves a simulator for the carrier tests: short timeouts,
// no MO webhook.
func startCarrier(t *testing.T, cfg sim.Config) (*sim.Sim, *oneAPI) {
	t.Helper()
	if cfg.Timeout == 0 {
		cfg.Timeout = testTimeout
	}
	if cfg.Seed == 0 {
		cfg.Seed = 1
	}
	s, srv := startSim(t, cfg)
	return s, &oneAPI{t: t, srv: srv, http: &http.Client{
		Timeout:   5 * time.Second,
		Transport: &http.Transport{DisableKeepAlives: true},
	}}
}

// oneAPI calls the simulator's carrier endpoints.
type oneAPI struct {
	t          *testing.T
	srv        *httptest.Server
	http       *http.Client
	user, pass string
	bearer     string
}

// reply is an HTTP answer; err is set when there was none (a timeout).
type reply struct {
	status int
	header http.Header
	body   string
	err    error
}

func (c *oneAPI) do(method, path, body string) reply {
	c.t.Helper()
	req, err := http.NewRequest(method, c.srv.URL+path, strings.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.user != "" || c.pass != "" {
		req.SetBasicAuth(c.user, c.pass)
	}
	if c.bearer != "" {
		req.Header.Set("Authorization", "Bearer "+c.bearer)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return reply{err: err}
	}
	return reply{status: resp.StatusCode, header: resp.Header, body: readAll(c.t, resp)}
}

// tel is the path form of a number's endUserId.
func tel(phone string) string { return "tel:%2B" + strings.TrimPrefix(phone, "+") }

// txn is the request body of a charge or refund.
type txn struct {
	phone, ref, corr, amount string
	status                   string // "Charged" when empty
	original                 string
}

func (x txn) body() string {
	status := x.status
	if status == "" {
		status = "Charged"
	}
	orig := ""
	if x.original != "" {
		orig = fmt.Sprintf(`,"originalServerReferenceCode":%q`, x.original)
	}
	return fmt.Sprintf(`{"amountTransaction":{"endUserId":"tel:%s","clientCorrelator":%q,"referenceCode":%q,`+
		`"transactionOperationStatus":%q%s,"paymentAmount":{"chargingInformation":{"amount":%q,"currency":"USD",`+
		`"description":"Donation to Demo Committee"},"chargingMetaData":{"onBehalfOf":"Demo Committee (C99999999)",`+
		`"purchaseCategoryCode":"Donation","channel":"SMS"}}}}`,
		x.phone, x.corr, x.ref, status, orig, x.amount)
}

func (c *oneAPI) post(x txn) reply {
	c.t.Helper()
	return c.do(http.MethodPost, "/payment/v1/"+tel(x.phone)+"/transactions/amount", x.body())
}

func (c *oneAPI) charge(phone, ref, corr, amount string) reply {
	c.t.Helper()
	return c.post(txn{phone: phone, ref: ref, corr: corr, amount: amount})
}

func (c *oneAPI) refund(phone, ref, corr, amount, original string) reply {
	c.t.Helper()
	return c.post(txn{phone: phone, ref: ref, corr: corr, amount: amount, status: "Refunded", original: original})
}

func (c *oneAPI) lookup(phone string) reply {
	c.t.Helper()
	return c.do(http.MethodGet, "/lookup/v1/"+tel(phone), "")
}

func (c *oneAPI) list(phone string) []wireTxn {
	c.t.Helper()
	r := c.do(http.MethodGet, "/payment/v1/"+tel(phone)+"/transactions", "")
	if r.err != nil || r.status != 200 {
		c.t.Fatalf("list %s: %d %s %v", phone, r.status, r.body, r.err)
	}
	var l struct {
		PaymentTransactionList struct {
			AmountTransaction []wireTxn
			ResourceURL       string
		}
	}
	decode(c.t, r.body, &l)
	if want := c.srv.URL + "/payment/v1/" + tel(phone) + "/transactions"; l.PaymentTransactionList.ResourceURL != want {
		c.t.Errorf("list resourceURL = %q, want %q", l.PaymentTransactionList.ResourceURL, want)
	}
	if l.PaymentTransactionList.AmountTransaction == nil {
		c.t.Errorf("list without an amountTransaction array: %s", r.body)
	}
	return l.PaymentTransactionList.AmountTransaction
}

// status GETs a resourceURL.
func (c *oneAPI) status(resourceURL string) reply {
	c.t.Helper()
	return c.do(http.MethodGet, strings.TrimPrefix(resourceURL, c.srv.URL), "")
}

// wireTxn is an amountTransaction as the simulator answers it.
type wireTxn struct {
	EndUserID                   string `json:"endUserId"`
	ClientCorrelator            string `json:"clientCorrelator"`
	ReferenceCode               string `json:"referenceCode"`
	TransactionOperationStatus  string `json:"transactionOperationStatus"`
	OriginalServerReferenceCode string `json:"originalServerReferenceCode"`
	ServerReferenceCode         string `json:"serverReferenceCode"`
	ResourceURL                 string `json:"resourceURL"`
	PaymentAmount               struct {
		TotalAmountCharged  string `json:"totalAmountCharged"`
		ChargingInformation struct {
			Amount      string `json:"amount"`
			Currency    string `json:"currency"`
			Description string `json:"description"`
		} `json:"chargingInformation"`
		ChargingMetaData struct {
			OnBehalfOf           string `json:"onBehalfOf"`
			PurchaseCategoryCode string `json:"purchaseCategoryCode"`
			Channel              string `json:"channel"`
		} `json:"chargingMetaData"`
	} `json:"paymentAmount"`
}

// wireException is a OneAPI error as the simulator answers it.
type wireException struct {
	MessageID string   `json:"messageId"`
	Text      string   `json:"text"`
	Variables []string `json:"variables"`
}

func decode(t *testing.T, body string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(body), v); err != nil {
		t.Fatalf("body %q: %v", body, err)
	}
}

// transaction decodes a 200 or 201 answer.
func transaction(t *testing.T, r reply) wireTxn {
	t.Helper()
	if r.err != nil || (r.status != 200 && r.status != 201) {
		t.Fatalf("got %d %s %v, want a transaction", r.status, r.body, r.err)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
	var b struct{ AmountTransaction *wireTxn }
	decode(t, r.body, &b)
	if b.AmountTransaction == nil {
		t.Fatalf("no amountTransaction in %s", r.body)
	}
	return *b.AmountTransaction
}

// exception decodes an error answer, checking its status and kind.
func exception(t *testing.T, r reply, status int) wireException {
	t.Helper()
	if r.err != nil || r.status != status {
		t.Fatalf("got %d %s %v, want %d", r.status, r.body, r.err, status)
	}
	var b struct {
		RequestError struct {
			ServiceException *wireException
			PolicyException  *wireException
		}
	}
	decode(t, r.body, &b)
	e := b.RequestError.ServiceException
	if status == 403 {
		e = b.RequestError.PolicyException
	}
	if e == nil || e.MessageID == "" || e.Text == "" {
		t.Fatalf("no %d exception in %s", status, r.body)
	}
	return *e
}

func TestCharge(t *testing.T) {
	s, c := startCarrier(t, sim.Config{Now: newClock().Now})
	const p = "+12125550100"
	r := c.charge(p, "D1", "D1-1", "10.00")
	if r.status != 201 {
		t.Fatalf("charge: %d %s", r.status, r.body)
	}
	tx := transaction(t, r)
	if !strings.HasPrefix(tx.ServerReferenceCode, "SRV") ||
		tx.ResourceURL != c.srv.URL+"/payment/v1/tel:%2B12125550100/transactions/amount/"+tx.ServerReferenceCode ||
		r.header.Get("Location") != tx.ResourceURL {
		t.Errorf("serverReferenceCode %q, resourceURL %q, Location %q", tx.ServerReferenceCode, tx.ResourceURL, r.header.Get("Location"))
	}
	if tx.EndUserID != "tel:"+p || tx.ClientCorrelator != "D1-1" || tx.ReferenceCode != "D1" ||
		tx.TransactionOperationStatus != "Charged" || tx.PaymentAmount.TotalAmountCharged != "10.00" ||
		tx.PaymentAmount.ChargingInformation.Amount != "10.00" || tx.PaymentAmount.ChargingInformation.Currency != "USD" ||
		tx.PaymentAmount.ChargingInformation.Description != "Donation to Demo Committee" ||
		tx.PaymentAmount.ChargingMetaData.OnBehalfOf != "Demo Committee (C99999999)" ||
		tx.PaymentAmount.ChargingMetaData.Channel != "SMS" {
		t.Errorf("echo = %+v", tx)
	}

	// The same correlator: the first answer, byte for byte; no charge.
	again := c.charge(p, "D1", "D1-1", "10.00")
	if again.status != 201 || again.body != r.body || again.header.Get("Location") != r.header.Get("Location") {
		t.Errorf("replay = %d %s, want the first answer %s", again.status, again.body, r.body)
	}
	// The same reference under a new correlator: SVC0002, no charge.
	if e := exception(t, c.charge(p, "D1", "D1-2", "10.00"), 400); e.MessageID != "SVC0002" {
		t.Errorf("reused reference: %+v", e)
	}
	// The correlator with another reference or amount: refused.
	if e := exception(t, c.charge(p, "D2", "D1-1", "10.00"), 400); e.MessageID != "SVC0001" {
		t.Errorf("correlator reused for another reference: %+v", e)
	}
	if e := exception(t, c.charge(p, "D1", "D1-1", "20.00"), 400); e.MessageID != "SVC0001" {
		t.Errorf("correlator reused for another amount: %+v", e)
	}
	// The correlator is the user's: another user may use it.
	if r := c.charge("+12125550102", "D3", "D1-1", "5.00"); r.status != 201 {
		t.Errorf("same correlator, other user: %d %s", r.status, r.body)
	}

	// Status and list.
	if got := transaction(t, c.status(tx.ResourceURL)); got != tx {
		t.Errorf("status = %+v, want %+v", got, tx)
	}
	if l := c.list(p); len(l) != 1 || l[0] != tx {
		t.Errorf("list = %+v", l)
	}
	if l := c.list("+12125550104"); len(l) != 0 {
		t.Errorf("list of a user never charged = %+v", l)
	}
	exception(t, c.do("GET", "/payment/v1/"+tel(p)+"/transactions/amount/SRVnope", ""), 404)
	// Another user's transaction is not found under this one.
	exception(t, c.do("GET", "/payment/v1/"+tel("+12125550102")+"/transactions/amount/"+tx.ServerReferenceCode, ""), 404)

	ledger := s.Ledger()
	want := sim.Charge{Kind: "charge", ServerRef: tx.ServerReferenceCode, Reference: "D1", Correlator: "D1-1",
		Phone: p, Amount: 1000, Carrier: "SimMobile", At: time.Date(2026, 3, 14, 15, 9, 27, 0, time.UTC)}
	if len(ledger) != 2 || ledger[0] != want || ledger[1].Carrier != "SimMobile" || ledger[1].Amount != 500 {
		t.Errorf("ledger = %+v, want [%+v, ...]", ledger, want)
	}
	ledger[0].Amount = 1
	if s.Ledger()[0].Amount != 1000 {
		t.Error("Ledger shares its storage")
	}
}

// The unescaped tel: form of the path is accepted too.
func TestUnescapedTel(t *testing.T) {
	_, c := startCarrier(t, sim.Config{})
	x := txn{phone: "+12125550100", ref: "D1", corr: "c1", amount: "1.00"}
	r := c.do("POST", "/payment/v1/tel:+12125550100/transactions/amount", x.body())
	tx := transaction(t, r)
	if got := transaction(t, c.do("GET", "/payment/v1/tel:+12125550100/transactions/amount/"+tx.ServerReferenceCode, "")); got != tx {
		t.Errorf("status = %+v", got)
	}
	if r := c.do("GET", "/lookup/v1/tel:+12125550100", ""); r.status != 200 {
		t.Errorf("lookup: %d %s", r.status, r.body)
	}
	if r := c.do("GET", "/lookup/v1/"+url.PathEscape("tel:+12125550100"), ""); r.status != 200 {
		t.Errorf("lookup, path-escaped: %d %s", r.status, r.body)
	}
}

type line struct {
	Country  string `json:"country"`
	Carrier  string `json:"carrier"`
	LineType string `json:"lineType"`
}

// Every row of the number plan (SPEC §12.3) through the HTTP endpoints.
func TestNumberPlan(t *testing.T) {
	tests := []struct {
		name   string
		phone  string
		lookup int  // status; 200 compares line
		line   line // when 200
		charge int  // status of the first charge
		code   string
		text   string // in the exception's text and variables
	}{
		{"Prepaid", "+12015550100", 200, line{"US", "SimMobile", "prepaid"}, 403, "POL1000", ""},
		{"Business", "+12025550101", 200, line{"US", "SimWireless", "business"}, 403, "POL0001", "business-liable"},
		{"Capped", "+12035550102", 200, line{"US", "SimMobile", "postpaid"}, 403, "POL1001", "monthly"},
		{"PremiumBlocked", "+12055550103", 200, line{"US", "SimWireless", "postpaid"}, 403, "POL0001", "premium"},
		{"LookupFails", "+12065550104", 503, line{}, 201, "", ""},
		{"Flaky", "+12085550199", 200, line{"US", "SimWireless", "postpaid"}, 500, "", ""},
		{"Canada", "+14165550107", 200, line{"CA", "SimWireless", "postpaid"}, 201, "", ""},
		{"OtherCanada", "+16045550110", 200, line{"CA", "SimMobile", "postpaid"}, 201, "", ""},
		{"UK", "+442079460000", 200, line{"GB", "SimMobile", "postpaid"}, 201, "", ""},
		{"France", "+33142685301", 200, line{"FR", "SimWireless", "postpaid"}, 201, "", ""},
		{"Ordinary", "+12125550100", 200, line{"US", "SimMobile", "postpaid"}, 201, "", ""},
		{"PlanNPAOutside01xx", "+12015551234", 200, line{"US", "SimMobile", "postpaid"}, 201, "", ""},
		{"Invalid555", "+15555550100", 404, line{}, 400, "SVC0004", ""},
		{"Invalid999", "+19995550101", 404, line{}, 400, "SVC0004", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, c := startCarrier(t, sim.Config{})
			r := c.lookup(tt.phone)
			if r.err != nil || r.status != tt.lookup {
				t.Fatalf("lookup = %d %s %v, want %d", r.status, r.body, r.err, tt.lookup)
			}
			if tt.lookup == 200 {
				var got line
				decode(t, r.body, &got)
				if got != tt.line {
					t.Errorf("lookup = %+v, want %+v", got, tt.line)
				}
			}

			r = c.charge(tt.phone, "D-"+tt.name, "D-"+tt.name+"-1", "10.00")
			switch {
			case tt.charge == 201:
				tx := transaction(t, r)
				if st := transaction(t, c.status(tx.ResourceURL)); st.TransactionOperationStatus != "Charged" {
					t.Errorf("status = %+v", st)
				}
				if l := c.list(tt.phone); len(l) != 1 || l[0] != tx {
					t.Errorf("list = %+v", l)
				}
				if n := len(s.Ledger()); n != 1 {
					t.Errorf("ledger has %d entries, want 1", n)
				}
			case tt.charge == 500:
				exception(t, r, 500)
			default:
				e := exception(t, r, tt.charge)
				all := e.Text + " " + strings.Join(e.Variables, " ")
				if e.MessageID != tt.code || !strings.Contains(all, tt.text) {
					t.Errorf("exception = %+v, want %s with %q", e, tt.code, tt.text)
				}
				// Declined: not listed, not in the ledger; the
				// correlator gets the same answer again.
				if again := c.charge(tt.phone, "D-"+tt.name, "D-"+tt.name+"-1", "10.00"); again.status != r.status || again.body != r.body {
					t.Errorf("replay = %d %s, want %d %s", again.status, again.body, r.status, r.body)
				}
				if tt.lookup != 404 {
					if l := c.list(tt.phone); len(l) != 0 {
						t.Errorf("list = %+v, want none", l)
					}
				}
				if l := s.Ledger(); len(l) != 0 {
					t.Errorf("ledger = %+v, want none", l)
				}
			}
		})
	}
}

// +1208555 01xx: 500 twice, then the charge on the same correlator.
func TestFlakyNumber(t *testing.T) {
	s, c := startCarrier(t, sim.Config{})
	const p = "+12085550100"
	for i := range 2 {
		exception(t, c.charge(p, "D1", "D1-1", "10.00"), 500)
		if l := c.list(p); len(l) != 0 {
			t.Fatalf("after 500 #%d: list = %+v", i+1, l)
		}
	}
	tx := transaction(t, c.charge(p, "D1", "D1-1", "10.00"))
	if tx.TransactionOperationStatus != "Charged" || tx.ReferenceCode != "D1" {
		t.Errorf("third attempt = %+v", tx)
	}
	if l := s.Ledger(); len(l) != 1 || l[0].ServerRef != tx.ServerReferenceCode {
		t.Errorf("ledger = %+v", l)
	}
	// Another reference starts its own count.
	exception(t, c.charge(p, "D2", "D2-1", "10.00"), 500)
}

// +1207555 01xx: the first attempt is applied and its connection dropped
// after Config.Timeout; the status says Charged; a retry with the same
// correlator gets the first result; one ledger entry.
func TestTimeoutReplay(t *testing.T) {
	s, c := startCarrier(t, sim.Config{})
	const p = "+12075550100"
	start := time.Now()
	r := c.charge(p, "D1", "D1-1", "10.00")
	if r.err == nil {
		t.Fatalf("first attempt answered %d %s, want a dropped connection", r.status, r.body)
	}
	if d := time.Since(start); d < testTimeout {
		t.Errorf("dropped after %v, want at least %v", d, testTimeout)
	}
	l := c.list(p)
	if len(l) != 1 || l[0].TransactionOperationStatus != "Charged" || l[0].ReferenceCode != "D1" {
		t.Fatalf("list after the timeout = %+v", l)
	}
	if st := transaction(t, c.status(l[0].ResourceURL)); st != l[0] {
		t.Errorf("status = %+v, want %+v", st, l[0])
	}
	again := c.charge(p, "D1", "D1-1", "10.00")
	if tx := transaction(t, again); tx != l[0] || again.status != 201 {
		t.Errorf("retry = %d %+v, want 201 %+v", again.status, tx, l[0])
	}
	if e := exception(t, c.charge(p, "D1", "D1-2", "10.00"), 400); e.MessageID != "SVC0002" {
		t.Errorf("new correlator: %+v", e)
	}
	if n := len(s.Ledger()); n != 1 {
		t.Errorf("ledger has %d entries, want 1", n)
	}
	// Each reference's first attempt times out.
	if r := c.charge(p, "D2", "D2-1", "1.00"); r.err == nil {
		t.Errorf("D2 answered %d, want a dropped connection", r.status)
	}
	if n := len(s.Ledger()); n != 2 {
		t.Errorf("ledger has %d entries, want 2", n)
	}
}

func TestRefund(t *testing.T) {
	s, c := startCarrier(t, sim.Config{})
	const p = "+12125550101"
	charge := transaction(t, c.charge(p, "D1", "D1-1", "10.00"))
	other := transaction(t, c.charge("+12125550103", "D2", "D2-1", "10.00"))

	t.Run("NoOriginal", func(t *testing.T) {
		e := exception(t, c.refund(p, "R0", "R0-1", "10.00", ""), 403)
		if e.MessageID != "POL1005" {
			t.Errorf("exception = %+v", e)
		}
	})
	for _, tt := range []struct {
		name, original, amount, text string
	}{
		{"UnknownOriginal", "SRVnope", "10.00", "SRVnope"},
		{"OtherUsersCharge", other.ServerReferenceCode, "10.00", other.ServerReferenceCode},
		{"PartialAmount", charge.ServerReferenceCode, "5.00", "5.00"},
		{"MoreThanCharged", charge.ServerReferenceCode, "10.01", "10.01"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := exception(t, c.refund(p, "R-"+tt.name, "R-"+tt.name+"-1", tt.amount, tt.original), 400)
			if e.MessageID != "SVC0001" || !strings.Contains(e.Text, tt.text) {
				t.Errorf("exception = %+v", e)
			}
		})
	}

	r := c.refund(p, "R1", "R1-1", "10.00", charge.ServerReferenceCode)
	refund := transaction(t, r)
	if r.status != 201 || refund.TransactionOperationStatus != "Refunded" || refund.ReferenceCode != "R1" ||
		refund.OriginalServerReferenceCode != charge.ServerReferenceCode ||
		refund.ServerReferenceCode == "" || refund.ServerReferenceCode == charge.ServerReferenceCode ||
		r.header.Get("Location") != refund.ResourceURL || refund.PaymentAmount.TotalAmountCharged != "10.00" {
		t.Errorf("refund = %d %+v", r.status, refund)
	}
	// Replayed: the first answer. Refunded again: SVC0001.
	if again := c.refund(p, "R1", "R1-1", "10.00", charge.ServerReferenceCode); again.status != 201 || again.body != r.body {
		t.Errorf("replay = %d %s", again.status, again.body)
	}
	if e := exception(t, c.refund(p, "R2", "R2-1", "10.00", charge.ServerReferenceCode), 400); e.MessageID != "SVC0001" ||
		!strings.Contains(e.Text, "already refunded") {
		t.Errorf("second refund: %+v", e)
	}
	// The refund's own reference cannot be reused under a new correlator.
	if e := exception(t, c.refund(p, "R1", "R1-2", "10.00", charge.ServerReferenceCode), 400); e.MessageID != "SVC0002" {
		t.Errorf("reused refund reference: %+v", e)
	}
	// A refund is not refundable.
	if e := exception(t, c.refund(p, "R3", "R3-1", "10.00", refund.ServerReferenceCode), 400); e.MessageID != "SVC0001" {
		t.Errorf("refund of a refund: %+v", e)
	}

	// The charge still says Charged; the refund says Refunded; both listed.
	if st := transaction(t, c.status(charge.ResourceURL)); st.TransactionOperationStatus != "Charged" {
		t.Errorf("charge status = %+v", st)
	}
	if st := transaction(t, c.status(refund.ResourceURL)); st != refund {
		t.Errorf("refund status = %+v", st)
	}
	if l := c.list(p); len(l) != 2 || l[0] != charge || l[1] != refund {
		t.Errorf("list = %+v", l)
	}

	ledger := s.Ledger()
	if len(ledger) != 3 {
		t.Fatalf("ledger = %+v, want 3 entries", ledger)
	}
	want := sim.Charge{Kind: "refund", ServerRef: refund.ServerReferenceCode, Reference: "R1", Correlator: "R1-1",
		Phone: p, Amount: 1000, Carrier: "SimWireless", At: ledger[2].At, OriginalServerRef: charge.ServerReferenceCode}
	if ledger[2] != want {
		t.Errorf("ledger[2] = %+v, want %+v", ledger[2], want)
	}
}

// Concurrent retries of one charge charge once and all get the same answer.
func TestConcurrentCharges(t *testing.T) {
	s, c := startCarrier(t, sim.Config{})
	const p = "+12125550100"
	var wg sync.WaitGroup
	bodies := make([]string, 20)
	for i := range bodies {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := c.charge(p, "D1", "D1-1", "10.00")
			if r.err != nil || r.status != 201 {
				t.Errorf("charge: %d %s %v", r.status, r.body, r.err)
			}
			bodies[i] = r.body
			c.charge(p, fmt.Sprint("other", i), fmt.Sprint("oc", i), "1.00")
		}()
	}
	wg.Wait()
	for _, b := range bodies {
		if b != bodies[0] {
			t.Fatalf("answers differ: %q and %q", b, bodies[0])
		}
	}
	n := 0
	for _, ch := range s.Ledger() {
		if ch.Reference == "D1" {
			n++
		}
	}
	if n != 1 || len(s.Ledger()) != 21 {
		t.Errorf("D1 charged %d times, ledger %d entries; want 1 and 21", n, len(s.Ledger()))
	}
}

func TestDecline(t *testing.T) {
	s, c := startCarrier(t, sim.Config{})
	const p = "+12125550100"
	s.Decline(p, "POL0253")
	if e := exception(t, c.charge(p, "D1", "D1-1", "10.00"), 403); e.MessageID != "POL0253" {
		t.Errorf("forced: %+v", e)
	}
	s.Decline("tel:"+p, "SVC0270")
	if e := exception(t, c.charge(p, "D2", "D2-1", "10.00"), 400); e.MessageID != "SVC0270" || e.Text != "Charging failed: %1" || len(e.Variables) != 1 {
		t.Errorf("forced: %+v", e)
	}
	// A forced code beats the plan.
	s.Decline("+12075550100", "POL0254")
	if e := exception(t, c.charge("+12075550100", "D3", "D3-1", "10.00"), 403); e.MessageID != "POL0254" {
		t.Errorf("forced on a timeout number: %+v", e)
	}

	// Over HTTP.
	for _, tt := range []struct {
		body   string
		status int
	}{
		{`{"phone":"+12125550102","code":"POL1001"}`, 200},
		{`{"phone":"12125550102","code":"POL1001"}`, 400},
		{`{"phone":"+12125550102","code":"NOPE"}`, 400},
		{`{"phone":"+12125550102","code":"POL1001","extra":1}`, 400},
		{`not json`, 400},
	} {
		r := c.do("POST", "/sim/declines", tt.body)
		if r.status != tt.status {
			t.Errorf("POST /sim/declines %s: %d %s, want %d", tt.body, r.status, r.body, tt.status)
		}
		if r.status != 200 && strings.Contains(r.body, "2125550") {
			t.Errorf("POST /sim/declines %s: answer %s shows the phone number", tt.body, r.body)
		}
	}
	if e := exception(t, c.charge("+12125550102", "D4", "D4-1", "10.00"), 403); e.MessageID != "POL1001" || e.Variables[0] != "monthly" {
		t.Errorf("forced over HTTP: %+v", e)
	}

	// Lifted: charges succeed again; the declined correlator keeps its answer.
	s.Decline(p, "")
	c.do("POST", "/sim/declines", `{"phone":"+12125550102","code":""}`)
	if r := c.charge(p, "D5", "D5-1", "10.00"); r.status != 201 {
		t.Errorf("after lifting: %d %s", r.status, r.body)
	}
	if r := c.charge("+12125550102", "D6", "D6-1", "10.00"); r.status != 201 {
		t.Errorf("after lifting over HTTP: %d %s", r.status, r.body)
	}
	if r := c.charge(p, "D1", "D1-1", "10.00"); r.status != 403 {
		t.Errorf("declined correlator replayed: %d %s", r.status, r.body)
	}
}

func TestCarrierAuth(t *testing.T) {
	const p = "+12125550100"
	tests := []struct {
		name       string
		cfg        sim.Config
		user, pass string
		bearer     string
		ok         bool
	}{
		{"OpenNoCredentials", sim.Config{}, "", "", "", true},
		{"OpenAnyCredentials", sim.Config{}, "x", "y", "", true},
		{"Basic", sim.Config{CarrierUser: "shortcode", CarrierPassword: "s3cret"}, "shortcode", "s3cret", "", true},
		{"NoCredentials", sim.Config{CarrierUser: "shortcode", CarrierPassword: "s3cret"}, "", "", "", false},
		{"WrongPassword", sim.Config{CarrierUser: "shortcode", CarrierPassword: "s3cret"}, "shortcode", "nope", "", false},
		{"WrongUser", sim.Config{CarrierUser: "shortcode", CarrierPassword: "s3cret"}, "other", "s3cret", "", false},
		{"PasswordOnly", sim.Config{CarrierPassword: "s3cret"}, "", "s3cret", "", true},
		{"PasswordOnlyWrong", sim.Config{CarrierPassword: "s3cret"}, "", "nope", "", false},
		{"BasicNotBearer", sim.Config{CarrierUser: "shortcode", CarrierPassword: "s3cret"}, "", "", "s3cret", false},
		{"Bearer", sim.Config{CarrierToken: "tok"}, "", "", "tok", true},
		{"WrongBearer", sim.Config{CarrierToken: "tok"}, "", "", "other", false},
		{"BearerNotBasic", sim.Config{CarrierToken: "tok"}, "tok", "tok", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, c := startCarrier(t, tt.cfg)
			c.user, c.pass, c.bearer = tt.user, tt.pass, tt.bearer
			replies := map[string]reply{
				"charge": c.charge(p, "D1", "D1-1", "10.00"),
				"lookup": c.lookup(p),
				"list":   c.do("GET", "/payment/v1/"+tel(p)+"/transactions", ""),
				"status": c.do("GET", "/payment/v1/"+tel(p)+"/transactions/amount/SRVx", ""),
			}
			for name, r := range replies {
				if r.err != nil {
					t.Fatalf("%s: %v", name, r.err)
				}
				if (r.status == 401) == tt.ok {
					t.Errorf("%s: %d %s", name, r.status, r.body)
				}
				if r.status == 401 && r.header.Get("WWW-Authenticate") == "" {
					t.Errorf("%s: 401 without WWW-Authenticate", name)
				}
			}
			if n := len(s.Ledger()); (n == 1) != tt.ok {
				t.Errorf("ledger has %d entries", n)
			}
		})
	}
}

// Malformed requests are answered 400 SVC0001, never 5xx, and charge
// nothing.
func TestMalformed(t *testing.T) {
	const p = "+12125550100"
	good := txn{phone: p, ref: "D1", corr: "D1-1", amount: "10.00"}.body()
	path := "/payment/v1/" + tel(p) + "/transactions/amount"
	with := func(old, new string) string {
		if !strings.Contains(good, old) {
			t.Fatalf("%q not in the body", old)
		}
		return strings.Replace(good, old, new, 1)
	}
	tests := []struct {
		name, path, body string
	}{
		{"Empty", path, ""},
		{"NotJSON", path, "amount=10.00"},
		{"Truncated", path, good[:len(good)-3]},
		{"TrailingData", path, good + "{}"},
		{"Null", path, "null"},
		{"Array", path, "[]"},
		{"NoTransaction", path, `{"other":{}}`},
		{"NullTransaction", path, `{"amountTransaction":null}`},
		{"OtherUserInBody", path, with(`"tel:+12125550100"`, `"tel:+12125550102"`)},
		{"NoTelPrefixInBody", path, with(`"tel:+12125550100"`, `"+12125550100"`)},
		{"NoTelPrefixInPath", "/payment/v1/%2B12125550100/transactions/amount", good},
		{"BadTelInPath", "/payment/v1/tel:12125550100/transactions/amount", good},
		{"LettersInPath", "/payment/v1/tel:%2B1212555ABCD/transactions/amount", good},
		{"NoCorrelator", path, with(`"clientCorrelator":"D1-1"`, `"clientCorrelator":""`)},
		{"LongCorrelator", path, with(`"D1-1"`, `"`+strings.Repeat("c", 257)+`"`)},
		{"NoReference", path, with(`"referenceCode":"D1"`, `"x":"D1"`)},
		{"NoStatus", path, with(`"transactionOperationStatus":"Charged"`, `"x":"y"`)},
		{"StatusProcessing", path, with(`"Charged"`, `"Processing"`)},
		{"StatusLowercase", path, with(`"Charged"`, `"charged"`)},
		{"OriginalOnCharge", path, with(`"transactionOperationStatus":"Charged"`, `"transactionOperationStatus":"Charged","originalServerReferenceCode":"SRV1"`)},
		{"NoPaymentAmount", path, `{"amountTransaction":{"endUserId":"tel:+12125550100","clientCorrelator":"c","referenceCode":"r","transactionOperationStatus":"Charged"}}`},
		{"NoChargingInformation", path, with(`"chargingInformation":`, `"x":`)},
		{"AmountNumber", path, with(`"amount":"10.00"`, `"amount":10.00`)},
		{"AmountNoDecimals", path, with(`"10.00"`, `"10"`)},
		{"AmountOneDecimal", path, with(`"10.00"`, `"10.0"`)},
		{"AmountThreeDecimals", path, with(`"10.00"`, `"10.000"`)},
		{"AmountComma", path, with(`"10.00"`, `"10,00"`)},
		{"AmountNegative", path, with(`"10.00"`, `"-10.00"`)},
		{"AmountZero", path, with(`"10.00"`, `"0.00"`)},
		{"AmountLeadingZero", path, with(`"10.00"`, `"010.00"`)},
		{"AmountExponent", path, with(`"10.00"`, `"1e3"`)},
		{"AmountHuge", path, with(`"10.00"`, `"99999999999999999999.00"`)},
		{"AmountSpaces", path, with(`"10.00"`, `" 10.00"`)},
		{"CurrencyEUR", path, with(`"USD"`, `"EUR"`)},
		{"CurrencyMissing", path, with(`"currency":"USD"`, `"x":"USD"`)},
		{"TooLarge", path, with(`"Donation to Demo Committee"`, `"`+strings.Repeat("x", 70<<10)+`"`)},
		{"StatusBadTel", "/payment/v1/tel:12125550100/transactions/amount/SRV1", ""},
		{"ListBadTel", "/payment/v1/tel:12125550100/transactions", ""},
		{"LookupBadTel", "/lookup/v1/12125550100", ""},
		{"LookupTooLong", "/lookup/v1/tel:%2B1212555010012345", ""},
	}
	s, c := startCarrier(t, sim.Config{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			method := "POST"
			if tt.body == "" && tt.name != "Empty" {
				method = "GET"
			}
			r := c.do(method, tt.path, tt.body)
			e := exception(t, r, 400)
			if e.MessageID != "SVC0001" {
				t.Errorf("exception = %+v", e)
			}
			if strings.Contains(r.body, "2125550") {
				t.Errorf("answer %s shows the phone number", r.body)
			}
		})
	}
	if l := s.Ledger(); len(l) != 0 {
		t.Errorf("ledger = %+v", l)
	}
	// The well-formed request still works (nothing was recorded for it).
	if r := c.do("POST", path, good); r.status != 201 {
		t.Errorf("good request: %d %s", r.status, r.body)
	}
}

func TestLedgerHTTP(t *testing.T) {
	s, c := startCarrier(t, sim.Config{Now: newClock().Now})
	charge := transaction(t, c.charge("+12125550100", "D1", "D1-1", "10.00"))
	transaction(t, c.refund("+12125550100", "R1", "R1-1", "10.00", charge.ServerReferenceCode))
	r := c.do("GET", "/sim/ledger", "")
	if r.status != 200 || r.header.Get("Content-Type") != "application/json" {
		t.Errorf("status %d, Content-Type %q", r.status, r.header.Get("Content-Type"))
	}
	var got struct{ Charges []sim.Charge }
	decode(t, r.body, &got)
	want := s.Ledger()
	if len(got.Charges) != 2 || got.Charges[0] != want[0] || got.Charges[1] != want[1] {
		t.Errorf("ledger over HTTP = %+v, want %+v", got.Charges, want)
	}
	if !strings.Contains(r.body, `"kind":"refund"`) || !strings.Contains(r.body, `"original_server_ref":"`+charge.ServerReferenceCode+`"`) {
		t.Errorf("ledger JSON = %s", r.body)
	}
}
