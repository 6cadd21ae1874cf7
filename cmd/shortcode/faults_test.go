package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	mathrand "math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/shortcode/shortcode/carrier/sim"
	"github.com/shortcode/shortcode/carrier/twilio"
	"github.com/shortcode/shortcode/donation"
	"github.com/shortcode/shortcode/storage"
	"github.com/shortcode/shortcode/storage/storagetest"
)

// Fault tests: each runs a crowd of donors against real serve processes
// on PostgreSQL while one thing fails, then checks SPEC §10 with the
// invariants of invariants_test.go. Faults covered elsewhere:
// TestKillDuringCharge and TestKillBetweenSendAndMark (a kill at one
// chosen point), TestFaultyCarrier (carrier timeouts and 5xx in-process,
// 500 donations), TestReadyzFollowsPostgres (/readyz while PostgreSQL is
// down), TestTwoServersShareTheCaps (two servers racing one number's caps).

// moForm is the form the gateway posts for an MO, with a new MessageSid.
func moForm(phone, to, body string) url.Values {
	sid := make([]byte, 16)
	rand.Read(sid)
	return url.Values{"MessageSid": {"SM" + hex.EncodeToString(sid)}, "AccountSid": {defaultAccountSID},
		"From": {phone}, "To": {to}, "Body": {body}}
}

// postSigned posts form to server's path, signed with the test token
// over server+path as the gateway would, and returns the status code.
func postSigned(c *http.Client, server, path string, form url.Values) (int, error) {
	req, err := http.NewRequest(http.MethodPost, server+path, strings.NewReader(form.Encode()))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set(twilio.SignatureHeader, twilio.Signature("test-token", server+path, form))
	resp, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

// chaosServer starts serve on a fresh PostgreSQL database with the
// simulator g in front of addr.
func chaosPostgres(t *testing.T) (dsn, addr string, g *chaosSim) {
	t.Helper()
	dsn = storagetest.DSN(t, storage.Postgres)
	addr = freeAddr(t)
	return dsn, addr, newChaosSim(t, "http://"+addr, uint64(time.Now().UnixNano()))
}

// settle ends a fault test: the donors finish, the run drains, and SPEC
// §10 is checked with the servers given.
func settle(t *testing.T, c *crowd, g *chaosSim, dsn string, servers ...*server) tally {
	t.Helper()
	c.finish(90 * time.Second)
	drain(t, dsn, 60*time.Second)
	var urls []string
	for _, s := range servers {
		urls = append(urls, s.url)
	}
	y := invariants{sim: g.Sim, dsn: dsn, pinKey: pinKeyBytes(), mos: c.mos, servers: urls}.check(t)
	if y.Completed == 0 {
		t.Errorf("no donation completed: the run tested nothing")
	}
	if t.Failed() {
		for _, s := range servers {
			t.Logf("server %s log:\n%s", s.url, s.out.String())
		}
	}
	t.Logf("donors: %s", c)
	t.Logf("checked: %s", y)
	return y
}

// TestPostgresDownUnderLoad: PostgreSQL stops for 3 s while donors text.
// Meanwhile the webhook answers 503 (nothing stored, the gateway retries)
// and the server stays up; once PostgreSQL is back the same process, never
// restarted, completes conversations again; no acknowledged MO is lost and
// every invariant holds.
func TestPostgresDownUnderLoad(t *testing.T) {
	pg := startPrivatePostgres(t)
	dsn := pg.dsn()
	addr := freeAddr(t)
	g := newChaosSim(t, "http://"+addr, 11)
	srv := serve(t, addr, chaosArgs(dsn, g)...)
	c := newCrowd(t, g.Sim, "+1312555", 11)
	c.start(12)
	time.Sleep(2 * time.Second)

	pg.ctl("stop", "-m", "fast")
	before := c.receipts.Load()
	hc := &http.Client{Timeout: 5 * time.Second}
	var unavailable int
	for range 10 {
		code, err := postSigned(hc, srv.url, twilio.SMSPath, moForm("+13125559999", "62262", "GIVE 10"))
		if err != nil {
			t.Fatalf("webhook while PostgreSQL is down: %v", err)
		}
		if code == http.StatusServiceUnavailable {
			unavailable++
		}
		time.Sleep(300 * time.Millisecond)
	}
	if unavailable != 10 {
		t.Errorf("%d of 10 MOs answered 503 while PostgreSQL was down, want all", unavailable)
	}
	during := c.receipts.Load() - before
	pg.start()

	start := time.Now()
	after := c.receipts.Load()
	if !waitUntil(30*time.Second, func() bool { return c.receipts.Load() >= after+10 }) {
		t.Errorf("only %d receipts within 30 s of PostgreSQL's restart", c.receipts.Load()-after)
	}
	t.Logf("PostgreSQL down 3 s: %d receipts meanwhile (charged before it stopped); 10 receipts %v after it was back",
		during, time.Since(start).Round(10*time.Millisecond))
	if srv.cmd.ProcessState != nil {
		t.Fatalf("the server exited:\n%s", srv.out.String())
	}
	settle(t, c, g, dsn, srv)
	srv.stop()
}

// TestCarrierFaults: the carrier is slow (every answer 400 ms late), then
// failing (30% of requests answered 500), then timing out (30% held 1 s
// and dropped, half of those after applying the charge), while donors
// text. Lookups that fail refuse the donor (fail closed); every charge
// ends known, once; every invariant holds. TestFaultyCarrier does the same
// in-process, with more donations.
func TestCarrierFaults(t *testing.T) {
	dsn, addr, g := chaosPostgres(t)
	srv := serve(t, addr, chaosArgs(dsn, g)...)
	c := newCrowd(t, g.Sim, "+1312555", 12)
	c.start(12)
	for _, f := range []sim.Faults{
		{Latency: 400 * time.Millisecond},
		{ErrorRate: 0.3},
		{TimeoutRate: 0.3},
	} {
		g.SetFaults(f)
		time.Sleep(3 * time.Second)
	}
	g.SetFaults(sim.Faults{})
	y := settle(t, c, g, dsn, srv)
	if posts := g.chargePosts.Load(); posts <= int64(y.Charges) {
		t.Errorf("%d charge requests for %d charges: no charge was asked again", posts, y.Charges)
	}
	t.Logf("%d charge requests for %d charges", g.chargePosts.Load(), y.Charges)
	srv.stop()
}

// TestGatewayFaults: the gateway's Messages API answers 429 (Twilio's
// 20429) and 503, and times out without taking the MT, then takes MTs but
// answers after the server's --send-timeout (the server cannot tell
// whether it took them). Every text arrives exactly once: those the server
// was not told of are found in the gateway's list, never sent again.
func TestGatewayFaults(t *testing.T) {
	dsn, addr, g := chaosPostgres(t)
	srv := serve(t, addr, chaosArgs(dsn, g)...)
	c := newCrowd(t, g.Sim, "+1312555", 13)
	c.start(12)
	// Held sends are dropped after the simulator's timeout (1 s), past
	// the server's --send-timeout (500ms).
	g.SetFaults(sim.Faults{MessagesTooManyRate: 0.2, MessagesUnavailableRate: 0.2, MessagesTimeoutRate: 0.1})
	time.Sleep(4 * time.Second)
	g.SetFaults(sim.Faults{MessagesLatency: 700 * time.Millisecond}) // past --send-timeout 500ms
	time.Sleep(3 * time.Second)
	g.SetFaults(sim.Faults{})
	settle(t, c, g, dsn, srv)
	srv.stop()
	refused := g.RefusedMTs()
	if refused[sim.RefusedTooMany] == 0 || refused[sim.RefusedUnavailable] == 0 || refused[sim.RefusedTimeout] == 0 {
		t.Errorf("the gateway's faults did not all happen: %v", refused)
	}
	if !strings.Contains(srv.out.String(), "mt found at the gateway") {
		t.Errorf("no MT taken by a slow gateway was found in its list")
	}
	t.Logf("sends refused by the gateway: %v", refused)
}

// TestConcurrentDuplicateMOs: SPEC §10 (5). Every MO of 20 conversations
// is posted three times at once, the same MessageSid and signature, as a
// gateway retrying while its first post is still in flight would: each
// post is answered 200, the MO is stored once and answered once, and the
// donations complete once.
func TestConcurrentDuplicateMOs(t *testing.T) {
	dsn, addr, g := chaosPostgres(t)
	srv := serve(t, addr, chaosArgs(dsn, g)...)
	mos := newMOLog()
	hc := &http.Client{Timeout: 10 * time.Second}
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			number := fmt.Sprintf("+1312555%04d", 2000+i)
			p := &donorPhone{c: &crowd{sim: g.Sim}, number: number}
			say := func(body string) string {
				form := moForm(number, "62262", body)
				var copies sync.WaitGroup
				codes := make([]int, 3)
				for k := range codes {
					copies.Add(1)
					go func() {
						defer copies.Done()
						code, err := postSigned(hc, srv.url, twilio.SMSPath, form)
						if err != nil {
							t.Errorf("%s: %v", number, err)
						}
						codes[k] = code
					}()
				}
				copies.Wait()
				for _, code := range codes {
					if code != http.StatusOK {
						t.Errorf("%s says %q three times at once: answers %v, want 200s", number, body, codes)
						break
					}
				}
				mos.add(number, sim.Delivery{SID: form.Get("MessageSid"), Status: codes[0]})
				return p.next(20 * time.Second)
			}
			if !reConfirm.MatchString(say("GIVE 10")) {
				t.Errorf("%s: no confirmation", number)
				return
			}
			pin := rePIN.FindStringSubmatch(say("YES"))
			if pin == nil {
				t.Errorf("%s: no PIN", number)
				return
			}
			if got := say(pin[1]); !reReceipt.MatchString(got) {
				t.Errorf("%s: got %q, want the receipt", number, got)
			}
			if extra := p.next(500 * time.Millisecond); extra != "" {
				t.Errorf("%s got a second answer: %q", number, extra)
			}
		}()
	}
	wg.Wait()
	drain(t, dsn, 30*time.Second)
	y := invariants{sim: g.Sim, dsn: dsn, pinKey: pinKeyBytes(), mos: mos, servers: []string{srv.url}}.check(t)
	if y.Completed != 20 || y.StoredMOs != 60 || y.Texts != 60 {
		t.Errorf("checked: %s; want 20 completed, 60 MOs stored and 60 texts", y)
	}
	srv.stop()
}

// TestStatusCallbacksOutOfOrder: the gateway's status callbacks come late,
// out of order, repeated and at once (queued, sent and delivered, each
// three times, shuffled, all at once per MT), and also before the sender
// stored the MT's sid (a slow gateway answers after its callback). Every
// MT ends delivered: a callback never takes a status back. Callbacks for
// sids the server never sent are answered 200 and change nothing.
func TestStatusCallbacksOutOfOrder(t *testing.T) {
	dsn, addr, g := chaosPostgres(t)
	// The callback is posted as the MT is taken, the answer 200 ms later.
	g.SetFaults(sim.Faults{MessagesLatency: 200 * time.Millisecond})
	srv := serve(t, addr, chaosArgs(dsn, g)...)
	c := newCrowd(t, g.Sim, "+1312555", 14)
	c.stopRate = 0
	c.start(8)
	time.Sleep(3 * time.Second)
	c.finish(60 * time.Second)
	drain(t, dsn, 30*time.Second)
	g.Wait() // the simulator's own callbacks

	hc := &http.Client{Timeout: 10 * time.Second}
	rng := mathrand.New(mathrand.NewPCG(14, 14))
	msgs := g.Messages("")
	var wg sync.WaitGroup
	var posted atomic.Int64
	for _, m := range msgs {
		statuses := []string{"queued", "sent", "delivered", "queued", "sent", "delivered", "sent", "queued", "delivered"}
		rng.Shuffle(len(statuses), func(i, j int) { statuses[i], statuses[j] = statuses[j], statuses[i] })
		for _, st := range statuses {
			wg.Add(1)
			go func() {
				defer wg.Done()
				form := url.Values{"MessageSid": {m.SID}, "SmsSid": {m.SID}, "MessageStatus": {st}, "SmsStatus": {st},
					"AccountSid": {defaultAccountSID}, "From": {m.From}, "To": {m.To}, "ApiVersion": {"2010-04-01"}}
				code, err := postSigned(hc, srv.url, twilio.StatusPath, form)
				if err != nil || code != http.StatusOK {
					t.Errorf("status callback %s of %s: %d, %v", st, m.SID, code, err)
				}
				posted.Add(1)
			}()
		}
	}
	for range 20 {
		sid := moForm("+13125550000", "62262", "").Get("MessageSid") // a sid never sent
		code, err := postSigned(hc, srv.url, twilio.StatusPath, url.Values{"MessageSid": {sid}, "MessageStatus": {"delivered"},
			"AccountSid": {defaultAccountSID}, "From": {"62262"}, "To": {"+13125550000"}})
		if err != nil || code != http.StatusOK {
			t.Errorf("status callback of an unknown sid: %d, %v", code, err)
		}
	}
	wg.Wait()

	db, err := storage.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	sentCount := 0
	c.mos.mu.Lock()
	phones := c.mos.phones
	c.mos.mu.Unlock()
	for number := range phones {
		recs, err := db.OutboxRecords(context.Background(), number)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range recs {
			if r.Status != "sent" {
				continue
			}
			sentCount++
			if r.DeliveryStatus != donation.DeliveryDelivered {
				t.Errorf("MT %s (%s): delivery status %q after its callbacks, want delivered", r.ID, r.SID, r.DeliveryStatus)
			}
		}
	}
	if sentCount != len(msgs) || sentCount == 0 {
		t.Errorf("%d MTs sent, the gateway has %d", sentCount, len(msgs))
	}
	y := invariants{sim: g.Sim, dsn: dsn, pinKey: pinKeyBytes(), mos: c.mos, servers: []string{srv.url}}.check(t)
	t.Logf("%d status callbacks posted for %d MTs; checked: %s", posted.Load(), len(msgs), y)
	srv.stop()
}

// balancer is a load balancer in front of serve processes: each request
// goes to the next server in turn, and to the other if that one does not
// answer (a dead process). Both servers are told its URL as their public
// URL, so that the gateway's signatures and status callbacks pass through.
type balancer struct {
	mu       sync.Mutex
	backends []string
	next     int
	hc       *http.Client
}

func (b *balancer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	b.mu.Lock()
	order := append(b.backends[b.next:], b.backends[:b.next]...)
	b.next = (b.next + 1) % len(b.backends)
	b.mu.Unlock()
	var last error
	for _, backend := range order {
		req, _ := http.NewRequestWithContext(r.Context(), r.Method, backend+r.URL.RequestURI(), bytes.NewReader(body))
		req.Header = r.Header.Clone()
		resp, err := b.hc.Do(req)
		if err != nil {
			last = err
			if errors.Is(err, syscall.ECONNREFUSED) {
				continue // never reached it: the other may take it
			}
			break // it may have taken the request: answer 502, the gateway retries
		}
		for k, v := range resp.Header {
			w.Header()[k] = v
		}
		w.WriteHeader(resp.StatusCode)
		io.Copy(w, resp.Body)
		resp.Body.Close()
		return
	}
	http.Error(w, fmt.Sprintf("no server answered: %v", last), http.StatusBadGateway)
}

// TestTwoServersOneKilled: two serve processes share one PostgreSQL behind
// a load balancer; donors text through both. One server is killed
// (SIGKILL) while a charge or a send is under way: the other carries on,
// takes over what the dead one held once its leases end, and every
// invariant holds.
func TestTwoServersOneKilled(t *testing.T) {
	dsn := storagetest.DSN(t, storage.Postgres)
	lb := &balancer{hc: &http.Client{Timeout: 10 * time.Second}}
	front := httptest.NewServer(lb)
	t.Cleanup(front.Close)
	g := newChaosSim(t, front.URL, 15)
	g.SetFaults(sim.Faults{Latency: 100 * time.Millisecond, MessagesLatency: 100 * time.Millisecond})
	addrA, addrB := freeAddr(t), freeAddr(t)
	args := chaosArgs(dsn, g, "--public-url", front.URL)
	a := serve(t, addrA, args...)
	b := serve(t, addrB, args...)
	lb.mu.Lock()
	lb.backends = []string{a.url, b.url}
	lb.mu.Unlock()

	c := newCrowd(t, g.Sim, "+1312555", 15)
	c.start(16)
	time.Sleep(3 * time.Second)
	if !waitUntil(5*time.Second, func() bool { return g.charging.Load() > 0 || g.sending.Load() > 0 }) {
		t.Logf("no charge or send under way at the kill")
	}
	a.kill()
	killed := c.receipts.Load()
	time.Sleep(4 * time.Second)
	if got := c.receipts.Load() - killed; got < 10 {
		t.Errorf("%d receipts in the 4 s after a server was killed", got)
	}
	settle(t, c, g, dsn, b)
	b.stop()
}

// TestStopKeepsATakenMTsRecord: an MT the gateway took, but whose answer
// the server never got (a timeout), is looked up at the gateway before it
// is sent again. If the donor opts out meanwhile, the MT is cancelled
// without that look-up: the outbox says it was never sent, with no sid,
// while the donor has it, and the donation's transcript (SPEC §8, audit
// show) lacks a text the donor received. TestCrash meets it after kills
// (its tally's "taken but recorded cancelled").
func TestStopKeepsATakenMTsRecord(t *testing.T) {
	dsn, addr, g := chaosPostgres(t)
	// The gateway takes each MT at once and answers 3 s later, long after
	// the server's --send-timeout of 500 ms.
	g.SetFaults(sim.Faults{MessagesLatency: 3 * time.Second})
	srv := serve(t, addr, chaosArgs(dsn, g)...)
	number := "+13125553000"
	p := &donorPhone{c: &crowd{sim: g.Sim}, number: number}
	say := func(body string) {
		d, err := g.SendMO(context.Background(), sim.PhoneMO{From: number, To: "62262", Body: body})
		if err != nil || d.Status != http.StatusOK {
			t.Fatalf("%s: %+v, %v", body, d, err)
		}
	}
	say("GIVE 10")
	if got := p.next(10 * time.Second); !reConfirm.MatchString(got) {
		t.Fatalf("got %q, want the confirmation", got)
	}
	say("STOP") // the donor read the confirmation and opted out
	g.SetFaults(sim.Faults{})
	if got := p.next(10 * time.Second); !reStopped.MatchString(got) {
		t.Fatalf("got %q, want the opt-out confirmation", got)
	}
	drain(t, dsn, 10*time.Second)
	srv.stop()

	db, err := storage.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	recs, err := db.OutboxRecords(context.Background(), number)
	if err != nil {
		t.Fatal(err)
	}
	got := g.Messages(number)
	confirmation := got[len(got)-1]
	if len(recs) != 2 || recs[0].Status != "sent" || recs[0].SID != confirmation.SID {
		t.Errorf("the gateway took the confirmation as %s, but the outbox says:\n%s",
			confirmation.SID, textsAndOutbox(got, recs))
	}
}
