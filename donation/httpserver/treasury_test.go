package httpserver_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/shortcode/shortcode/compliance"
	"github.com/shortcode/shortcode/donation"
	"github.com/shortcode/shortcode/donation/auth"
	"github.com/shortcode/shortcode/donation/httpserver"
	"github.com/shortcode/shortcode/donation/treasury"
	"github.com/shortcode/shortcode/storage"
	"github.com/shortcode/shortcode/storage/storagetest"
)

func init() {
	mounts = append(mounts, mountTreasury)
	routeTables = append(routeTables, treasuryRoutes)
	templates = append(templates, func(_ *env, path string) string {
		path, _, _ = strings.Cut(path, "?")
		path = strings.Replace(path, "/donations/"+donor1, "/donations/{id}", 1)
		return strings.Replace(path, "/blocklist/"+blocked, "/blocklist/{phone}", 1)
	})
	states = append(states, treasuryState)
}

// The treasury routes' test data: a donor's three $10 contributions to the
// demo committee, received the day before t0, and a number blocked.
const (
	donorPhone = "+12125550100"
	donor1     = "DAPI01"
	blocked    = "+12125550199"
	demo       = "C99999999"
)

func mountTreasury(e *env) {
	e.t.Helper()
	ctx := context.Background()
	if err := e.db.SaveProgram(ctx, compliance.DemoProgram("https://sc.example")); err != nil {
		e.t.Fatal(err)
	}
	received := t0.Add(-24 * time.Hour)
	for _, id := range []string{donor1, "DAPI02", "DAPI03"} {
		d := donation.Donation{ID: id, ProgramID: "demo", CommitteeID: demo, Phone: donorPhone, ShortCode: "62262",
			Amount: 1000, Status: donation.Completed, Carrier: "SimMobile", CreatedAt: received, ReservedAt: received,
			ReceivedAt: received, CertifiedAt: received, ChargePostedAt: received, Correlator: id + "-1", ServerRef: "SRV-" + id,
			PINHash: "h", FinishedAt: received}
		c := &donation.Certification{At: received, ProgramID: "demo", CommitteeID: demo, Phone: donorPhone, DonationID: id,
			Channel: "sms", MessageID: "SM" + id, TextVersion: "confirm-v1", TextSHA256: strings.Repeat("a", 64), TermsVersion: "terms-v1", TermsSHA256: strings.Repeat("c", 64), Amount: 1000}
		err := e.db.Update(ctx, donorPhone, func(tx donation.Tx) error {
			return tx.Apply(ctx, donation.Result{Donations: []donation.Donation{d}, Certification: c,
				Verification: &donation.PINVerification{DonationID: id, At: received, Channel: "sms", MessageID: "SMPIN" + id}}, received, "")
		})
		if err != nil {
			e.t.Fatal(err)
		}
	}
	storagetest.Sequence(e.t, e.db)
	if err := e.db.Block(ctx, demo, blocked, "test", "test"); err != nil {
		e.t.Fatal(err)
	}
	svc := &treasury.Service{Store: e.db.Treasury(), Carriers: carriers{}, Clock: clock(t0)}
	e.hs.TreasuryRoutes(svc, e.db, func() time.Time { return t0 })
	e.hs.ActionRoutes(e.db)
}

// settlementBody is an import of DAPI02's line, saved by Excel (a BOM).
var settlementBody = func() string {
	b, _ := json.Marshal(map[string]string{"carrier": "SimMobile", "name": "march.csv",
		"file": "\uFEFF" + strings.Join(treasury.SettlementHeader, ",") + "\r\nSRV-DAPI02,DAPI02,2027-03-09T15:00:00Z,10.00,3.00,7.00,paid\r\n"})
	return string(b)
}()

func treasuryRoutes(e *env) []route {
	read := []auth.Role{auth.Treasurer, auth.Auditor}
	write := []auth.Role{auth.Treasurer}
	return []route{
		{"GET", "/api/v1/donations/" + donor1, "", read},
		{"GET", "/api/v1/donations?phone=%2B1******0100&committee=C99999999&from=2027-03-01&to=2027-03-31", "", read},
		{"POST", "/api/v1/refunds", `{"donation_id":"` + donor1 + `","reason":"prohibited","discovered":"2027-03-09"}`, write},
		{"GET", "/api/v1/refunds?committee=C99999999", "", read},
		{"POST", "/api/v1/settlements", settlementBody, write},
		{"GET", "/api/v1/settlements", "", read},
		{"GET", "/api/v1/forwards/due?committee=C99999999&within=10d", "", read},
		{"POST", "/api/v1/forwards", `{"committee":"C99999999","reference":"WIRE-1"}`, write},
		{"GET", "/api/v1/forwards?committee=C99999999", "", read},
		{"GET", "/api/v1/blocklist?committee=C99999999", "", read},
		{"POST", "/api/v1/blocklist", `{"phone":"+12125550198","committee":"C99999999","reason":"fraud report"}`, write},
		{"DELETE", "/api/v1/blocklist/" + blocked + "?committee=C99999999", "", write},
		{"GET", "/api/v1/actions", "", auth.Roles},
	}
}

// treasuryState is what the treasury routes may change.
func treasuryState(e *env) any {
	ctx := context.Background()
	ds, _ := e.db.FindDonations(ctx, treasury.Query{})
	rs, _ := e.db.Refunds(ctx, "")
	ss, _ := e.db.Settlements(ctx)
	fs, _ := e.db.Forwards(ctx, "")
	bs, _ := e.db.Blocklist(ctx, "")
	return []any{ds, rs, ss, fs, bs}
}

type clock time.Time

func (c clock) Now() time.Time { return time.Time(c) }

// carriers is one carrier, SimMobile, that refunds whatever it is asked to.
type carriers struct{}

func (carriers) Biller(name string) (donation.Biller, error) {
	if name != "SimMobile" {
		return nil, donation.ErrUnknownCarrier
	}
	return carriers{}, nil
}

func (c carriers) Fees(name string) (donation.Fees, error) {
	_, err := c.Biller(name)
	return donation.Fees{CarrierBPS: 3000}, err
}

func (carriers) Charge(context.Context, donation.ChargeRequest) (donation.ChargeResult, error) {
	return donation.ChargeResult{}, errors.New("not here")
}

func (carriers) Status(context.Context, donation.ChargeRequest) (donation.ChargeResult, error) {
	return donation.ChargeResult{}, errors.New("not here")
}

func (carriers) Refund(_ context.Context, req donation.RefundRequest) (donation.RefundResult, error) {
	return donation.RefundResult{Outcome: donation.Charged, ServerRef: "SRV-" + req.Reference}, nil
}

// decode reads an answer's JSON body into v.
func decode(t *testing.T, a answer, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(a.body), v); err != nil {
		t.Fatalf("%d %s: %v", a.status, a.body, err)
	}
}

// TestTreasuryRoutes: a treasurer's day through the API: find a donation
// and its evidence, refund it, import a settlement file, forward, keep the
// blocklist; an auditor sees the same with numbers masked; the action log
// has each change, by the token that made it.
func TestTreasuryRoutes(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		e := newEnv(t, db)
		treasurer, auditor := e.tokens["treasurer"], e.tokens["auditor"]
		masked := compliance.MaskPhone(donorPhone)

		var d httpserver.EvidenceJSON
		a := e.do("GET", "/api/v1/donations/"+donor1, treasurer, "")
		decode(t, a, &d)
		ev := d.Evidence
		if a.status != 200 || d.Phone != donorPhone || d.Amount != "10.00" || d.State != "completed" || ev.CertifiedAt == nil ||
			ev.CertificationSeq < 1 || ev.TextVersion != "confirm-v1" || ev.TermsVersion != "terms-v1" || !ev.PINVerified ||
			ev.ChargeReference != "SRV-"+donor1 || d.ReceivedAt == nil || d.ReceivedAt.Location() != time.UTC {
			t.Errorf("donation as treasurer: %d %s", a.status, a.body)
		}
		a = e.do("GET", "/api/v1/donations/"+donor1, auditor, "")
		if a.status != 200 || strings.Contains(a.body, donorPhone) || !strings.Contains(a.body, `"phone":"`+masked+`"`) {
			t.Errorf("donation as auditor: %d %s", a.status, a.body)
		}
		for _, tt := range []struct {
			who, query string
			status, n  int
		}{
			{treasurer, "phone=%2B12125550100", 200, 3},
			{treasurer, "phone=(212)%20555-0100&committee=C99999999", 200, 3},
			{treasurer, "phone=%2B1******0100", 200, 3},
			{treasurer, "phone=%2B1******0101", 200, 0},
			{treasurer, "from=2027-03-09&to=2027-03-09", 200, 3},
			{treasurer, "from=2027-03-10", 200, 0},
			{treasurer, "limit=2", 200, 2},
			{auditor, "phone=%2B1******0100", 200, 3},
			{auditor, "phone=%2B12125550100", 403, 0},
		} {
			a := e.do("GET", "/api/v1/donations?"+tt.query, tt.who, "")
			var ds []httpserver.EvidenceJSON
			if a.status == 200 {
				decode(t, a, &ds)
			}
			if a.status != tt.status || len(ds) != tt.n || (tt.who == auditor && strings.Contains(a.body, donorPhone)) {
				t.Errorf("donations?%s: %d %.300s; want %d with %d", tt.query, a.status, a.body, tt.status, tt.n)
			}
		}

		// A refund: recorded, refunded by the carrier, the source blocked.
		var r httpserver.RefundJSON
		a = e.do("POST", "/api/v1/refunds", treasurer, `{"donation_id":"DAPI01","reason":"prohibited","discovered":"2027-03-09"}`)
		decode(t, a, &r)
		if a.status != 201 || r.Status != "refunded" || r.Amount != "10.00" || r.Deadline == nil || !r.Deadline.Equal(time.Date(2027, 4, 8, 0, 0, 0, 0, time.UTC)) || r.Late == nil || *r.Late {
			t.Errorf("refund: %d %s", a.status, a.body)
		}
		if a := e.do("POST", "/api/v1/refunds", treasurer, `{"donation_id":"DAPI01","reason":"excessive"}`); a.status != 409 || !isProblem(a) {
			t.Errorf("refund again: %d %s, want a 409 problem", a.status, a.body)
		}
		decode(t, e.do("GET", "/api/v1/donations/"+donor1, treasurer, ""), &d)
		if d.State != "refunded" || len(d.Evidence.Refunds) != 1 || d.Evidence.Refunds[0].ID != r.ID || d.RefundedAt == nil {
			t.Errorf("refunded donation: %+v", d)
		}
		if a := e.do("GET", "/api/v1/refunds", auditor, ""); a.status != 200 || strings.Contains(a.body, donorPhone) || !strings.Contains(a.body, masked) {
			t.Errorf("refunds as auditor: %d %s", a.status, a.body)
		}
		if a := e.do("GET", "/api/v1/blocklist", treasurer, ""); !strings.Contains(a.body, donorPhone) || !strings.Contains(a.body, blocked) {
			t.Errorf("blocklist after a prohibited refund: %s", a.body)
		}

		// Settlement: imported once; the same file again changes nothing.
		var rep httpserver.ReportJSON
		a = e.do("POST", "/api/v1/settlements", treasurer, settlementBody)
		decode(t, a, &rep)
		if a.status != 201 || rep.Matched != 1 || rep.Problems != 0 || rep.Remitted != "7.00" || len(rep.Lines) != 1 || rep.Lines[0].Gross != "10.00" {
			t.Errorf("settlement import: %d %s", a.status, a.body)
		}
		if a := e.do("POST", "/api/v1/settlements", treasurer, settlementBody); a.status != 200 || !strings.Contains(a.body, `"already_imported":true`) {
			t.Errorf("re-import: %d %s", a.status, a.body)
		}
		// A body over the default 1 MiB is taken on this route.
		big := `{"carrier":"SimMobile",` + strings.Repeat(" ", 2<<20) + `"file":"` + strings.Join(treasury.SettlementHeader, ",") + `\nSRV-X,DX,2027-03-09T15:00:00Z,1.00,0.30,0.70,paid\n"}`
		if a := e.do("POST", "/api/v1/settlements", treasurer, big); a.status != 201 || !strings.Contains(a.body, `"problems":1`) {
			t.Errorf("a 2 MiB import: %d %.300s", a.status, a.body)
		}
		var ss []httpserver.SettlementJSON
		decode(t, e.do("GET", "/api/v1/settlements", auditor, ""), &ss)
		if len(ss) != 2 || ss[0].Remitted != "7.00" || ss[0].Matched != 1 || ss[1].Problems != 1 {
			t.Errorf("settlements: %+v", ss)
		}

		// Forwarding: due within 10 days, recorded with its amount checked.
		var due []httpserver.DueJSON
		decode(t, e.do("GET", "/api/v1/forwards/due?within=10d", treasurer, ""), &due)
		if len(due) != 2 || due[0].Amount != "10.00" || due[0].Missed {
			t.Errorf("due: %+v", due)
		}
		if a := e.do("POST", "/api/v1/forwards", treasurer, `{"committee":"C99999999","reference":"WIRE-1","amount":"150000.00"}`); a.status != 409 || !isProblem(a) {
			t.Errorf("forward with the wrong amount: %d %s", a.status, a.body)
		}
		var f httpserver.ForwardJSON
		a = e.do("POST", "/api/v1/forwards", treasurer, `{"committee":"C99999999","reference":"WIRE-1","through":"2027-03-09","amount":"20.00"}`)
		decode(t, a, &f)
		if a.status != 201 || f.Count != 2 || f.Amount != "20.00" || !f.ReceivedBefore.Equal(time.Date(2027, 3, 10, 0, 0, 0, 0, time.UTC)) {
			t.Errorf("forward: %d %s", a.status, a.body)
		}
		if a := e.do("GET", "/api/v1/forwards/due?within=10d", treasurer, ""); a.body != "[]\n" {
			t.Errorf("due after forwarding: %s", a.body)
		}
		if a := e.do("GET", "/api/v1/forwards", auditor, ""); !strings.Contains(a.body, `"reference":"WIRE-1"`) {
			t.Errorf("forwards: %s", a.body)
		}

		// The blocklist: added once, removed once.
		if a := e.do("POST", "/api/v1/blocklist", treasurer, `{"phone":"(212) 555-0198","committee":"C99999999","reason":"fraud"}`); a.status != 201 || !strings.Contains(a.body, `"phone":"+12125550198"`) {
			t.Errorf("block: %d %s", a.status, a.body)
		}
		if a := e.do("POST", "/api/v1/blocklist", treasurer, `{"phone":"+12125550198","committee":"C99999999","reason":"again"}`); a.status != 200 || !strings.Contains(a.body, `"reason":"fraud"`) {
			t.Errorf("block again: %d %s, want 200 and the entry as it was", a.status, a.body)
		}
		if a := e.do("GET", "/api/v1/blocklist?committee=C99999999", auditor, ""); strings.Contains(a.body, "+12125550198") || strings.Contains(a.body, blocked) {
			t.Errorf("blocklist as auditor: %s", a.body)
		}
		if a := e.do("DELETE", "/api/v1/blocklist/"+blocked+"?committee=C99999999", auditor, ""); a.status != 403 || strings.Contains(a.body, blocked) {
			t.Errorf("unblock as auditor: %d %s, want a 403 without the number", a.status, a.body)
		}
		if strings.Contains(e.logs.String(), blocked) || !strings.Contains(e.logs.String(), compliance.MaskPhone(blocked)) {
			t.Errorf("a refused request's path is logged unmasked, or not at all:\n%s", e.logs.String())
		}
		if a := e.do("DELETE", "/api/v1/blocklist/%2B12125550199?committee=C99999999", treasurer, ""); a.status != 200 {
			t.Errorf("unblock: %d %s", a.status, a.body)
		}
		if a := e.do("DELETE", "/api/v1/blocklist/"+blocked+"?committee=C99999999", treasurer, ""); a.status != 404 || !isProblem(a) {
			t.Errorf("unblock again: %d %s, want a 404 problem", a.status, a.body)
		}

		var acts []httpserver.ActionJSON
		a = e.do("GET", "/api/v1/actions", auditor, "")
		decode(t, a, &acts)
		var got []string
		for _, act := range acts {
			if strings.HasPrefix(act.Actor, "token:") && strings.HasSuffix(act.Actor, "(treasurer)") {
				got = append(got, act.Action)
			}
		}
		want := []string{"refund.request", "settlement.import", "settlement.import", "forward.record", "blocklist.add", "blocklist.remove"}
		if !reflect.DeepEqual(got, want) || strings.Contains(a.body, donorPhone) || strings.Contains(a.body, "+12125550198") {
			t.Errorf("the treasurer's actions: %v, want %v (numbers masked)\n%s", got, want, a.body)
		}
	})
}

// TestTreasuryBadInput: SPEC §11. Malformed JSON, unknown fields, wrong
// types, huge or negative amounts, unknown ids, invalid numbers and bad
// filters get a 4xx problem and change nothing; never a 5xx.
func TestTreasuryBadInput(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		e := newEnv(t, db)
		before := stateOf(e)
		for _, tt := range []struct {
			method, path, body string
			status             int
		}{
			{"POST", "/api/v1/refunds", `{"donation_id":"DAPI01","reason":"prohibited"`, 400},
			{"POST", "/api/v1/refunds", `{"donation_id":"DAPI01","reason":"prohibited","amount":"10.00"}`, 400},
			{"POST", "/api/v1/refunds", `{"donation_id":5,"reason":"prohibited"}`, 400},
			{"POST", "/api/v1/refunds", `{"donation_id":"DAPI01","reason":"fraud"}`, 400},
			{"POST", "/api/v1/refunds", `{"donation_id":"","reason":"excessive"}`, 400},
			{"POST", "/api/v1/refunds", `{"donation_id":"DAPI01","reason":"prohibited","discovered":"09/03/2027"}`, 400},
			{"POST", "/api/v1/refunds", `{"donation_id":"DAPI01","reason":"prohibited","discovered":"2027-03-11"}`, 400},
			{"POST", "/api/v1/refunds", `{"donation_id":"DNOSUCH","reason":"excessive"}`, 404},
			{"POST", "/api/v1/refunds", `{"donation_id":"DAPI01' OR 1=1 --","reason":"excessive"}`, 404},
			{"POST", "/api/v1/refunds", `{"donation_id":"DAPI01","reason":"excessive","x":"` + strings.Repeat("x", 2<<20) + `"}`, 413},
			{"POST", "/api/v1/settlements", `{"carrier":"SimMobile","file":"ref,amount\nD1,10.00\n"}`, 400},
			{"POST", "/api/v1/settlements", `{"carrier":"NoSuchTel","file":"` + strings.Join(treasury.SettlementHeader, ",") + `\n"}`, 400},
			{"POST", "/api/v1/settlements", `{"file":"` + strings.Join(treasury.SettlementHeader, ",") + `\n"}`, 400},
			{"POST", "/api/v1/settlements", `{"carrier":"SimMobile","file":["a"]}`, 400},
			{"POST", "/api/v1/settlements", `{"carrier":"SimMobile","file":"","sha256":"x"}`, 400},
			{"POST", "/api/v1/forwards", `{"committee":"C99999999","reference":"W","amount":"-20.00"}`, 400},
			{"POST", "/api/v1/forwards", `{"committee":"C99999999","reference":"W","amount":"99999999999999999999.00"}`, 400},
			{"POST", "/api/v1/forwards", `{"committee":"C99999999","reference":"W","amount":"1e9"}`, 400},
			{"POST", "/api/v1/forwards", `{"committee":"C99999999","reference":"W","amount":30}`, 400},
			{"POST", "/api/v1/forwards", `{"committee":"C99999999","reference":"W","amount":"29.00"}`, 409},
			{"POST", "/api/v1/forwards", `{"committee":"C99999999","reference":"","amount":"30.00"}`, 400},
			{"POST", "/api/v1/forwards", `{"committee":"C99999999","reference":"W","through":"yesterday"}`, 400},
			{"POST", "/api/v1/forwards", `{"committee":"C00000000","reference":"W"}`, 404},
			{"POST", "/api/v1/forwards", `{"committee":"","reference":"W"}`, 400},
			{"POST", "/api/v1/forwards", `{"committee":"C99999999","reference":"W","through":"2027-03-08"}`, 409},
			{"GET", "/api/v1/forwards/due?within=soon", "", 400},
			{"GET", "/api/v1/forwards/due?within=-1d", "", 400},
			{"GET", "/api/v1/forwards/due?within=100000d", "", 400},
			{"GET", "/api/v1/forwards/due?within=99999999999h", "", 400},
			{"GET", "/api/v1/forwards/due?committee=C00000000", "", 404},
			{"GET", "/api/v1/forwards/due?commitee=C99999999", "", 400},
			{"GET", "/api/v1/forwards/due?within=1d&within=2d", "", 400},
			{"GET", "/api/v1/donations/DNOSUCH", "", 404},
			{"GET", "/api/v1/donations?phone=%2B1555", "", 400},
			{"GET", "/api/v1/donations?phone=12", "", 400},
			{"GET", "/api/v1/donations?phone=%2B1*****01x0", "", 400},
			{"GET", "/api/v1/donations?from=2027-13-01", "", 400},
			{"GET", "/api/v1/donations?from=2027-03-10&to=2027-03-01", "", 400},
			{"GET", "/api/v1/donations?limit=0", "", 400},
			{"GET", "/api/v1/donations?limit=many", "", 400},
			{"GET", "/api/v1/donations?limit=100000", "", 400},
			{"GET", "/api/v1/donations?committee=C00000000", "", 404},
			{"GET", "/api/v1/refunds?committee=C00000000", "", 404},
			{"GET", "/api/v1/settlements?carrier=SimMobile", "", 400},
			{"POST", "/api/v1/blocklist", `{"phone":"+1555","committee":"C99999999","reason":"x"}`, 400},
			{"POST", "/api/v1/blocklist", `{"phone":"+12125550198","committee":"C99999999","reason":""}`, 400},
			{"POST", "/api/v1/blocklist", `{"phone":"+12125550198","committee":"C00000000","reason":"x"}`, 404},
			{"POST", "/api/v1/blocklist", `{"phone":12125550198,"committee":"C99999999","reason":"x"}`, 400},
			{"DELETE", "/api/v1/blocklist/+12125550198?committee=C99999999", "", 404},
			{"DELETE", "/api/v1/blocklist/" + blocked, "", 404}, // not on the global list
			{"DELETE", "/api/v1/blocklist/not-a-number?committee=C99999999", "", 400},
			{"DELETE", "/api/v1/blocklist/" + blocked + "?committee=C99999999&why=x", "", 400},
		} {
			a := e.do(tt.method, tt.path, e.tokens["treasurer"], tt.body)
			if a.status != tt.status || !isProblem(a) {
				t.Errorf("%s %s %.60s: %d %.300s, want a %d problem", tt.method, tt.path, tt.body, a.status, a.body, tt.status)
			}
			if strings.Contains(a.body, donorPhone) || strings.Contains(a.body, blocked) {
				t.Errorf("%s %s: a problem shows a number: %s", tt.method, tt.path, a.body)
			}
		}
		if after := stateOf(e); !reflect.DeepEqual(before, after) {
			t.Errorf("bad input changed the store:\n%+v\nwas\n%+v", after, before)
		}
	})
}

// TestSettlementBodyLimit: a settlement import larger than
// MaxSettlementBody is refused with 413 as it is read.
func TestSettlementBodyLimit(t *testing.T) {
	e := newEnv(t, storagetest.Open(t, storage.SQLite))
	body := io.MultiReader(strings.NewReader(`{"carrier":"SimMobile","file":"`),
		io.LimitReader(repeat('a'), httpserver.MaxSettlementBody), strings.NewReader(`"}`))
	req, err := http.NewRequest("POST", e.srv.URL+"/api/v1/settlements", body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+e.tokens["treasurer"])
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 413 {
		t.Errorf("a settlement body over the limit: %d, want 413", resp.StatusCode)
	}
}

// repeat reads c forever.
type repeat byte

func (c repeat) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(c)
	}
	return len(p), nil
}
