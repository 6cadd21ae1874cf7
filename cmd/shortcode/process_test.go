package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/shortcode/shortcode/carrier"
	"github.com/shortcode/shortcode/carrier/sim"
	"github.com/shortcode/shortcode/carrier/twilio"
	"github.com/shortcode/shortcode/compliance"
	"github.com/shortcode/shortcode/compliance/certlog"
	"github.com/shortcode/shortcode/donation"
	"github.com/shortcode/shortcode/storage"
	"github.com/shortcode/shortcode/storage/storagetest"
)

// These tests run `shortcode serve` as real processes, so that a server can
// be killed, and two can share one database.

var (
	buildOnce sync.Once
	binDir    string
	binErr    error
)

// binary builds the shortcode command once per test run.
func binary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		binDir, binErr = os.MkdirTemp("", "shortcode-test-bin")
		if binErr != nil {
			return
		}
		out, err := exec.Command("go", "build", "-o", filepath.Join(binDir, "shortcode"), ".").CombinedOutput()
		if err != nil {
			binErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return filepath.Join(binDir, "shortcode")
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	if litewitnessDir != "" {
		os.RemoveAll(litewitnessDir)
	}
	os.Exit(code)
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// testLogKey signs the certification log of every test server; servers
// sharing a database must share it.
var testLogKey = func() string {
	skey, _, err := note.GenerateKey(rand.Reader, "test.example/shortcode/log")
	if err != nil {
		panic(err)
	}
	return skey
}()

// server is one `shortcode serve` process.
type server struct {
	t   *testing.T
	cmd *exec.Cmd
	url string
	out *lockedBuffer
}

// serve starts `shortcode serve` on addr, signing the log with testLogKey,
// and waits until it answers.
func serve(t *testing.T, addr string, args ...string) *server {
	t.Helper()
	return serveWith(t, addr, nil, append([]string{"--log-key", testLogKey}, args...)...)
}

// serveWith starts `shortcode serve` on addr with the variables env and
// the arguments args (and no log key but one they give), and waits until
// it answers.
func serveWith(t *testing.T, addr string, env []string, args ...string) *server {
	t.Helper()
	out := &lockedBuffer{}
	cmd := exec.Command(binary(t), append([]string{"serve", "--addr", addr, "--rate-limit", "1000"}, args...)...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}, env...)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &server{t: t, cmd: cmd, url: "http://" + addr, out: out}
	t.Cleanup(func() { s.kill() })
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(s.url + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return s
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.kill()
	t.Fatalf("serve did not start:\n%s", out.String())
	return nil
}

// kill ends the process at once, as a crash would.
func (s *server) kill() {
	if s.cmd.ProcessState == nil {
		s.cmd.Process.Kill()
		s.cmd.Wait()
	}
}

// stop ends the process cleanly (SIGTERM) and checks that it exits 0.
func (s *server) stop() {
	s.t.Helper()
	s.cmd.Process.Signal(syscall.SIGTERM)
	if err := s.cmd.Wait(); err != nil {
		s.t.Errorf("serve exited with %v:\n%s", err, s.out.String())
	}
}

// standaloneSim runs a simulator in the test process whose phones deliver
// to webhookURL, and writes a carrier file for it.
func standaloneSim(t *testing.T, webhookURL string, timeout time.Duration) (*sim.Sim, string, string) {
	t.Helper()
	s := sim.New(sim.Config{AuthToken: "test-token", WebhookURL: webhookURL + twilio.SMSPath, Timeout: timeout, Seed: 1})
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(func() { s.Close(); srv.Close() })
	b, err := json.Marshal(carrier.SimConfig(srv.URL))
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "carriers.json")
	if err := os.WriteFile(file, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return s, srv.URL, file
}

// TestKillDuringCharge: the server process dies after a charge is posted
// and before its outcome is stored; on restart the donation resolves with
// no second charge (SPEC §6.2, §10 (1)).
func TestKillDuringCharge(t *testing.T) {
	addr := freeAddr(t)
	// +1207555 01xx: the first charge is applied, then the answer is held
	// back for 5 s, long enough to kill the server while it waits.
	s, simURL, carriers := standaloneSim(t, "http://"+addr, 5*time.Second)
	dbPath := filepath.Join(t.TempDir(), "kill.db")
	args := []string{"--db", dbPath, "--sim-addr", "off", "--twilio-api-url", simURL, "--carriers", carriers,
		"--twilio-auth-token", "test-token", "--charge-backoff", "50ms", "--charge-lease", "1s"}
	first := serve(t, addr, args...)

	phone := "+12075550107"
	d := &donor{t: t, sim: s, phone: phone, to: "62262"}
	d.say("GIVE 10")
	d.next(reConfirm)
	d.say("YES")
	d.say(d.next(rePIN)[1])
	deadline := time.Now().Add(10 * time.Second)
	for len(s.Ledger()) == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if len(s.Ledger()) != 1 {
		t.Fatalf("the charge was not posted:\n%s", first.out.String())
	}
	first.kill()

	db, err := storage.Open(context.Background(), dbPath)
	if err != nil {
		t.Fatal(err)
	}
	ds, err := db.Donations(context.Background(), phone)
	db.Close()
	if err != nil || len(ds) != 1 || ds[0].Status != donation.Open || ds[0].ChargePostedAt.IsZero() || ds[0].ChargeAttempts != 0 {
		t.Fatalf("after the kill, donations = %+v (%v), want one posted with no outcome stored", ds, err)
	}

	second := serve(t, addr, args...)
	d.next(reReceipt)
	second.stop()
	ledger := s.Ledger()
	if len(ledger) != 1 {
		t.Errorf("carrier ledger after restart = %+v, want the one charge", ledger)
	}
	db, err = storage.Open(context.Background(), dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ds, _ = db.Donations(context.Background(), phone)
	if len(ds) != 1 || ds[0].Status != donation.Completed || ds[0].ServerRef != ledger[0].ServerRef {
		t.Errorf("after restart, donations = %+v, want one completed with the carrier's reference", ds)
	}
}

// webhookDonor texts one short code through a chosen server's webhook,
// signing each request as the gateway would.
type webhookDonor struct {
	donor
	servers []string
}

func (d *webhookDonor) sayTo(server, body string) {
	d.t.Helper()
	sid := make([]byte, 16)
	rand.Read(sid)
	form := url.Values{"MessageSid": {"SM" + hex.EncodeToString(sid)}, "AccountSid": {defaultAccountSID},
		"From": {d.phone}, "To": {d.to}, "Body": {body}}
	req, _ := http.NewRequest(http.MethodPost, server+twilio.SMSPath, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Twilio-Signature", twilio.Signature("test-token", server+twilio.SMSPath, form))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		d.t.Errorf("%s says %q to %s: %v", d.phone, body, server, err)
		return
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		d.t.Errorf("%s says %q to %s: %s", d.phone, body, server, resp.Status)
	}
}

// nextFrom is donor.next for the texts from this donor's short code only.
func (d *webhookDonor) nextFrom(re *regexp.Regexp) []string {
	d.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		var mine []sim.Message
		for _, m := range d.sim.Messages(d.phone) {
			if m.From == d.to {
				mine = append(mine, m)
			}
		}
		if len(mine) > d.seen {
			body := mine[len(mine)-1-d.seen].Body
			d.seen++
			if m := re.FindStringSubmatch(body); m != nil {
				return m
			}
			d.t.Errorf("%s on %s got %q, want %v", d.phone, d.to, body, re)
			return []string{body}
		}
		time.Sleep(5 * time.Millisecond)
	}
	d.t.Fatalf("%s on %s: no text matching %v", d.phone, d.to, re)
	return nil
}

// TestTwoServersShareTheCaps: two serve processes on one PostgreSQL, 20
// numbers each texting interleaved donations to both, on two short codes of
// one committee: no number passes $50 in the month (SPEC §5.3, §10 (2)),
// as the simulator's ledger — not ours — shows.
func TestTwoServersShareTheCaps(t *testing.T) {
	dsn := storagetest.DSN(t, storage.Postgres)
	ctx := context.Background()
	db, err := storage.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	first := compliance.DemoProgram("http://127.0.0.1:8080")
	second := first
	second.ID, second.ShortCode = "demo2", "62263"
	for _, p := range []compliance.Program{first, second} {
		if err := db.SaveProgram(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()

	addrA, addrB := freeAddr(t), freeAddr(t)
	s, simURL, carriers := standaloneSim(t, "http://"+addrA, 100*time.Millisecond)
	args := []string{"--db", dsn, "--sim-addr", "off", "--twilio-api-url", simURL, "--carriers", carriers,
		"--twilio-auth-token", "test-token", "--charge-backoff", "20ms", "--merge-delay", "50ms"}
	var a, b *server
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); a = serve(t, addrA, args...) }()
	go func() { defer wg.Done(); b = serve(t, addrB, args...) }()
	wg.Wait()
	if a == nil || b == nil {
		t.FailNow()
	}
	servers := []string{a.url, b.url}

	reOffer := regexp.MustCompile(reConfirm.String() + `|over your text-giving limit|reached the text-giving limit`)
	reEnd := regexp.MustCompile(reReceipt.String() + "|" + reDecline.String())
	const numbers = 20
	for i := range numbers {
		phone := fmt.Sprintf("+1312555%04d", 100+i)
		for j, sc := range []string{"62262", "62263"} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				d := &webhookDonor{donor: donor{t: t, sim: s, phone: phone, to: sc}}
				// Each subscriber tries $20 three times; messages alternate
				// between the servers, and the two short codes race.
				for round := range 3 {
					at := func(k int) string { return servers[(i+j+round+k)%2] }
					d.sayTo(at(0), "GIVE 20")
					if got := d.nextFrom(reOffer); !reConfirm.MatchString(got[0]) {
						if !strings.Contains(got[0], "reached") {
							d.sayTo(at(1), "NO")
							d.nextFrom(regexp.MustCompile(`no donation was made`))
						}
						continue
					}
					d.sayTo(at(1), "YES")
					pin := d.nextFrom(rePIN)[1]
					d.sayTo(at(0), pin)
					d.nextFrom(reEnd)
				}
			}()
		}
	}
	wg.Wait()
	checkOneLog(t, dsn, a.url, b.url)
	a.stop()
	b.stop()

	given := map[string]int64{}
	for _, c := range s.Ledger() {
		if c.Kind == sim.KindCharge {
			given[c.Phone] += c.Amount
		}
	}
	if len(given) != numbers {
		t.Errorf("%d numbers were charged, want %d", len(given), numbers)
	}
	for phone, cents := range given {
		if cents > 5000 {
			t.Errorf("%s was charged %d cents this month, over the $50 cap", phone, cents)
		}
		if cents < 4000 {
			t.Errorf("%s was charged only %d cents; the test did not reach the cap", phone, cents)
		}
	}
}

// checkOneLog: SPEC §10 (6). Servers sequencing one database's log
// concurrently build one tree: once every certification is in it, each
// server serves the same checkpoint, which verifies, and every
// certification has exactly one index, with no gap.
func checkOneLog(t *testing.T, dsn string, servers ...string) {
	t.Helper()
	ctx := context.Background()
	db, err := storage.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	certs, err := db.Certifications(ctx)
	if err != nil {
		t.Fatal(err)
	}
	vkey, err := certlog.VerifierKey(testLogKey)
	if err != nil {
		t.Fatal(err)
	}
	v, err := note.NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	var last []byte
	for _, srv := range servers {
		deadline := time.Now().Add(10 * time.Second)
		for {
			resp, err := http.Get(srv + "/log/checkpoint")
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			c, err := certlog.OpenCheckpoint(b, v)
			if err != nil {
				t.Fatalf("%s: checkpoint %q: %v", srv, b, err)
			}
			if c.N == int64(len(certs)) {
				if last != nil && string(last) != string(b) {
					t.Errorf("servers serve different checkpoints:\n%s\n%s", last, b)
				}
				last = b
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: checkpoint of size %d, want %d certifications", srv, c.N, len(certs))
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	es, err := db.Entries(ctx, 0, int64(len(certs))+1)
	if err != nil || len(es) != len(certs) {
		t.Fatalf("%d entries (%v), want %d", len(es), err, len(certs))
	}
	seen := map[string]bool{}
	for i, e := range es {
		if e.Index != int64(i) || seen[e.QueueID] {
			t.Fatalf("entry %d: index %d, queue id %s seen before: %v", i, e.Index, e.QueueID, seen[e.QueueID])
		}
		seen[e.QueueID] = true
	}
}
