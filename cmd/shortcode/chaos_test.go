package main

import (
	"context"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shortcode/shortcode/carrier"
	"github.com/shortcode/shortcode/carrier/sim"
	"github.com/shortcode/shortcode/carrier/twilio"
	"github.com/shortcode/shortcode/storage"
	"github.com/shortcode/shortcode/storage/storagetest"
)

// The chaos tests run donors against `shortcode serve` processes while
// something goes wrong: the server is killed (TestCrash), PostgreSQL or a
// carrier or the gateway fails (faults_test.go), the server is stopped
// (shutdown_test.go). Each ends by checking SPEC §10 (invariants_test.go).

// testPINKey is the chaos servers' --pin-key, so that a check can verify
// the PIN each completed donation was given.
const testPINKey = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"

func pinKeyBytes() []byte {
	b, err := hex.DecodeString(testPINKey)
	if err != nil {
		panic(err)
	}
	return b
}

// chaosSim is standaloneSim behind a gate that counts the charges and the
// MT sends in flight, so that a kill can be aimed at them.
type chaosSim struct {
	*sim.Sim
	url, carriers string
	charging      atomic.Int64 // OneAPI charge requests in flight
	sending       atomic.Int64 // Messages API sends in flight
	chargePosts   atomic.Int64 // OneAPI charge requests, all told
}

func newChaosSim(t *testing.T, webhookURL string, seed uint64) *chaosSim {
	t.Helper()
	g := &chaosSim{
		Sim: sim.New(sim.Config{AuthToken: "test-token", WebhookURL: webhookURL + twilio.SMSPath,
			Timeout: time.Second, Seed: seed}),
	}
	srv := httptest.NewServer(g)
	t.Cleanup(func() { g.Close(); srv.Close() })
	g.url = srv.URL
	b, err := json.Marshal(carrier.SimConfig(srv.URL))
	if err != nil {
		t.Fatal(err)
	}
	g.carriers = filepath.Join(t.TempDir(), "carriers.json")
	if err := os.WriteFile(g.carriers, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return g
}

func (g *chaosSim) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/Messages.json"):
		g.sending.Add(1)
		defer g.sending.Add(-1)
	case r.Method == http.MethodPost && strings.HasPrefix(r.URL.Path, "/payment/"):
		g.chargePosts.Add(1)
		g.charging.Add(1)
		defer g.charging.Add(-1)
	}
	g.Sim.Handler().ServeHTTP(w, r)
}

// chaosArgs are the serve flags of the chaos tests: the simulator g as
// gateway and carriers, short leases and backoffs so that a restarted
// server takes over within a second, and the test's PIN key.
func chaosArgs(dsn string, g *chaosSim, extra ...string) []string {
	return append([]string{"--db", dsn, "--sim-addr", "off", "--twilio-api-url", g.url, "--carriers", g.carriers,
		"--twilio-auth-token", "test-token", "--pin-key", testPINKey,
		"--charge-backoff", "50ms", "--charge-lease", "1s", "--send-lease", "1s", "--send-timeout", "500ms",
		"--merge-delay", "100ms"}, extra...)
}

// Texts a crowd's donors react to, besides aggregator_test.go's.
var (
	reOverLimit = regexp.MustCompile(`over your text-giving limit; you can give up to \$(\d+) more`)
	reReached   = regexp.MustCompile(`reached the text-giving limit`)
	reStopped   = regexp.MustCompile(`you are unsubscribed and will get no more messages`)
	reOptedIn   = regexp.MustCompile(`you are subscribed again`)
	reWrongPIN  = regexp.MustCompile(`that PIN is not right`)
	reBusy      = regexp.MustCompile(`your gift is being processed`)
	reFinished  = regexp.MustCompile(`no donation was made|request expired|too many wrong PINs|Text GIVE to donate|prepaid|business accounts|could not check your number`)
)

// crowd is the donors of a chaos run. Each worker is one phone at a time,
// texting whole conversations through the simulator's phones (GIVE with an
// amount, YES, the PIN) until its number reaches the month's cap, then the
// next number. Some STOP at a prompt and START again; some MOs are
// delivered twice. A donor reacts to the texts it receives, whatever the
// order, so that it goes on through kills, resends and late texts: an MO the
// webhook never acknowledged is sent again.
type crowd struct {
	t        *testing.T
	sim      *sim.Sim
	prefix   string // phone numbers are prefix and four digits
	seed     uint64
	stopRate float64 // chance of a STOP at each prompt
	dupRate  float64 // chance of an MO delivered twice
	wait     time.Duration

	mos        *moLog
	closing    atomic.Bool  // no new conversations
	delivering atomic.Int64 // MOs being delivered now
	wg         sync.WaitGroup

	numbers, conversations, receipts, declines, stops atomic.Int64
	// unknown counts the texts no donor expects; silences the acknowledged
	// MOs with no answer within wait, and odd those of numbers all of
	// whose MOs were acknowledged (each should have had its answer).
	unknown, silences, odd atomic.Int64
}

func newCrowd(t *testing.T, s *sim.Sim, prefix string, seed uint64) *crowd {
	return &crowd{t: t, sim: s, prefix: prefix, seed: seed, stopRate: 0.05, dupRate: 0.05, mos: newMOLog(), wait: 30 * time.Second}
}

// start starts n donors.
func (c *crowd) start(n int) {
	for i := range n {
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			rng := rand.New(rand.NewPCG(c.seed, uint64(i)))
			for !c.closing.Load() {
				n := c.numbers.Add(1)
				if n >= 9000 {
					return
				}
				c.life(rng, fmt.Sprintf("%s%04d", c.prefix, 1000+n))
			}
		}()
	}
}

// finish lets each donor end its conversation, and waits for them.
func (c *crowd) finish(within time.Duration) {
	c.t.Helper()
	c.closing.Store(true)
	done := make(chan struct{})
	go func() { c.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(within):
		c.t.Fatalf("the donors did not finish their conversations within %v", within)
	}
}

func (c *crowd) String() string {
	sent, acked := c.mos.counts()
	return fmt.Sprintf("%d numbers, %d conversations, %d receipts, %d declines, %d STOPs, %d MOs sent (%d acknowledged), %d silences (%d of numbers with every MO acknowledged), %d unexpected texts",
		c.numbers.Load(), c.conversations.Load(), c.receipts.Load(), c.declines.Load(), c.stops.Load(), sent, acked,
		c.silences.Load(), c.odd.Load(), c.unknown.Load())
}

// donorPhone is one donor's number and the texts it has read.
type donorPhone struct {
	c      *crowd
	number string
	rng    *rand.Rand
	seen   int
	// unacked counts the MOs the webhook never acknowledged: sent again,
	// they may be answered twice or once, and a donor may then wait for
	// an answer that is not due.
	unacked int
}

// life is one number's conversations, until it reaches the cap or the run
// ends.
func (c *crowd) life(rng *rand.Rand, number string) {
	p := &donorPhone{c: c, number: number, rng: rng}
	var pin string
	text := ""
	for {
		if text == "" {
			if c.closing.Load() {
				return
			}
			c.conversations.Add(1)
			text = p.ask(fmt.Sprintf("GIVE %d", 5*(1+rng.IntN(4))))
			continue
		}
		stop := rng.Float64() < c.stopRate
		switch {
		case stop && (reConfirm.MatchString(text) || rePIN.MatchString(text)):
			c.stops.Add(1)
			text = p.ask("STOP")
		case reConfirm.MatchString(text):
			text = p.ask("YES")
		case rePIN.MatchString(text):
			pin = rePIN.FindStringSubmatch(text)[1]
			text = p.ask(pin)
		case reWrongPIN.MatchString(text) && pin != "":
			text = p.ask(pin) // a late answer to an MO sent again
		case reReceipt.MatchString(text):
			c.receipts.Add(1)
			text = ""
		case reDecline.MatchString(text):
			c.declines.Add(1)
			text = ""
		case reReached.MatchString(text):
			return
		case reOverLimit.MatchString(text):
			text = p.ask(reOverLimit.FindStringSubmatch(text)[1])
		case reStopped.MatchString(text):
			time.Sleep(time.Duration(rng.IntN(500)) * time.Millisecond)
			text = p.ask("START")
		case reBusy.MatchString(text):
			text = p.next(c.wait)
		case reOptedIn.MatchString(text), reFinished.MatchString(text), reWrongPIN.MatchString(text):
			text = ""
		default:
			if c.unknown.Add(1) <= 5 {
				c.t.Logf("%s got an unexpected text: %q", number, text)
			}
			text = ""
		}
	}
}

// ask sends body until the webhook acknowledges it, and returns the next
// text the phone receives, or "" when none comes in time (counted). Every
// MO a donor sends is answered, so a silence is an error unless an MO of
// the number was sent again after no acknowledgement: then it may have
// been answered twice, or once, and the donor may be waiting for an
// answer already read.
func (p *donorPhone) ask(body string) string {
	for {
		acked := p.say(body)
		if acked {
			if text := p.next(p.c.wait); text != "" {
				return text
			}
			p.c.silences.Add(1)
			if p.unacked == 0 {
				p.c.odd.Add(1)
				p.c.t.Errorf("%s: no answer within %v to %q, though every MO of the number was acknowledged", p.number, p.c.wait, body)
			}
			return ""
		}
		p.unacked++
		// Not acknowledged: the server is down, or died before it
		// answered (then the MO may be stored, and its answer comes).
		if text := p.next(2 * time.Second); text != "" {
			return text
		}
	}
}

func (p *donorPhone) say(body string) bool {
	p.c.delivering.Add(1)
	defer p.c.delivering.Add(-1)
	dup := p.rng.Float64() < p.c.dupRate
	// The error says the MO was not delivered, or its duplicate was not;
	// the Delivery's Status tells whether the first was acknowledged.
	d, _ := p.c.sim.SendMO(context.Background(), sim.PhoneMO{From: p.number, To: "62262", Body: body, Duplicate: dup})
	return p.c.mos.add(p.number, d)
}

// next returns the oldest text the phone has not read, waiting up to
// within for one; "" when none came.
func (p *donorPhone) next(within time.Duration) string {
	for deadline := time.Now().Add(within); ; time.Sleep(20 * time.Millisecond) {
		if msgs := p.c.sim.Messages(p.number); len(msgs) > p.seen {
			p.seen++
			return msgs[len(msgs)-p.seen].Body
		}
		if time.Now().After(deadline) {
			return ""
		}
	}
}

// crashKills is how many times TestCrash kills the server on each store:
// SHORTCODE_CRASH_KILLS, else 10.
func crashKills(t *testing.T) int {
	s := os.Getenv("SHORTCODE_CRASH_KILLS")
	if s == "" {
		return 10
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		t.Fatalf("SHORTCODE_CRASH_KILLS=%q: want a number of kills", s)
	}
	return n
}

// crashSeed is SHORTCODE_CRASH_SEED, else a new seed; the test prints it.
func crashSeed(t *testing.T) uint64 {
	if s := os.Getenv("SHORTCODE_CRASH_SEED"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("SHORTCODE_CRASH_SEED=%q: want a number", s)
		}
		return n
	}
	return uint64(time.Now().UnixNano())
}

// TestCrash: SPEC §10 under SIGKILL. Donors text whole conversations
// (with STOPs and duplicate deliveries) through the simulator, a process
// apart, while the server is killed at moments drawn from a seeded RNG:
// at random, while an MO is being delivered, while a charge is at the
// carrier, while an MT is at the gateway, and while the log's sequencer
// holds its lock (PostgreSQL) or certifications wait for it. The
// simulator's latencies and a few carrier faults keep those windows wide.
// The server restarts on the same database and port each time, and the
// donors carry on; at the end, drained, every invariant holds.
// SHORTCODE_CRASH_KILLS sets the kills (default 10), SHORTCODE_CRASH_SEED
// replays a seed.
func TestCrash(t *testing.T) {
	kills, seed := crashKills(t), crashSeed(t)
	for _, driver := range storagetest.Drivers {
		t.Run(driver, func(t *testing.T) {
			n := kills
			if driver == storage.SQLite {
				n = (kills + 1) / 2 // the target store is PostgreSQL
			}
			crashRun(t, storagetest.DSN(t, driver), n, seed)
		})
	}
}

func crashRun(t *testing.T, dsn string, kills int, seed uint64) {
	t.Logf("seed %d (SHORTCODE_CRASH_SEED=%d replays it), %d kills", seed, seed, kills)
	start := time.Now()
	rng := rand.New(rand.NewPCG(seed, 1))
	addr := freeAddr(t)
	g := newChaosSim(t, "http://"+addr, seed)
	g.SetFaults(sim.Faults{Latency: 100 * time.Millisecond, MessagesLatency: 100 * time.Millisecond,
		TimeoutRate: 0.02, ErrorRate: 0.02, DuplicateRate: 0.02})
	args := chaosArgs(dsn, g)
	srv := serve(t, addr, args...)
	c := newCrowd(t, g.Sim, "+1312555", seed)
	c.start(24)

	locks := sequencerLock(t, dsn)
	kinds := []string{"random", "mo", "charge", "send", "sequencer"}
	aimed := map[string]int{}
	missed := map[string]int{}
	for k := range kills {
		time.Sleep(time.Duration(200+rng.IntN(1500)) * time.Millisecond)
		kind := kinds[rng.IntN(len(kinds))]
		var hit func() bool
		switch kind {
		case "mo":
			hit = func() bool { return c.delivering.Load() > 0 }
		case "charge":
			hit = func() bool { return g.charging.Load() > 0 }
		case "send":
			hit = func() bool { return g.sending.Load() > 0 }
		case "sequencer":
			hit = locks
		}
		if hit != nil {
			if waitUntil(3*time.Second, hit) {
				aimed[kind]++
			} else {
				missed[kind]++
			}
		}
		srv.kill()
		if t.Failed() {
			t.Fatalf("after kill %d:\n%s", k, srv.out.String())
		}
		// Down for a moment: the gateway retries MOs meanwhile.
		time.Sleep(time.Duration(rng.IntN(300)) * time.Millisecond)
		srv = serve(t, addr, args...)
	}
	c.finish(90 * time.Second)
	drain(t, dsn, 60*time.Second)
	y := invariants{sim: g.Sim, dsn: dsn, pinKey: pinKeyBytes(), mos: c.mos, servers: []string{srv.url}}.check(t)
	srv.stop()
	if t.Failed() {
		t.Logf("the last server's log:\n%s", srv.out.String())
	}
	if y.Completed == 0 {
		t.Errorf("no donation completed: the run tested nothing")
	}
	t.Logf("%d kills survived in %v (aimed: %v; the aim missed: %v)", kills, time.Since(start).Round(time.Second), aimed, missed)
	t.Logf("donors: %s", c)
	t.Logf("checked: %s", y)
}

// waitUntil polls cond until it holds or within passes.
func waitUntil(within time.Duration, cond func() bool) bool {
	for deadline := time.Now().Add(within); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		if cond() {
			return true
		}
	}
	return false
}

// sequencerLock returns a probe telling whether the log's sequencer is
// inside its transaction: on PostgreSQL, whether its advisory lock is held;
// on SQLite (no such view), whether certifications wait in the queue.
func sequencerLock(t *testing.T, dsn string) func() bool {
	t.Helper()
	if !strings.HasPrefix(dsn, "postgres") {
		db, err := storage.Open(context.Background(), dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return func() bool {
			certs, err := db.Certifications(context.Background())
			if err != nil {
				return false
			}
			for _, c := range certs {
				if c.Seq == 0 {
					return true
				}
			}
			return false
		}
	}
	db, err := sql.Open("postgres", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return func() bool {
		var n int
		err := db.QueryRow(`SELECT COUNT(*) FROM pg_locks WHERE locktype = 'advisory' AND granted AND database =
			(SELECT oid FROM pg_database WHERE datname = current_database())`).Scan(&n)
		return err == nil && n > 0
	}
}
