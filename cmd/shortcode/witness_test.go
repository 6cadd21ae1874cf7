package main

import (
	"crypto"
	"crypto/ed25519"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"filippo.io/torchwood"
	"golang.org/x/mod/sumdb/note"

	"github.com/shortcode/shortcode/compliance/certlog"
)

// EnvRequireWitness makes TestWitness fail, not skip, on a machine that
// cannot run litewitness (no ssh-agent, or the module cannot be built).
const EnvRequireWitness = "SHORTCODE_REQUIRE_WITNESS"

// TestWitness: SPEC §8, issue 9 (5). A real witness, litewitness from
// filippo.io/torchwood at the version go.mod pins, cosigns the log's
// checkpoints that serve sends it (c2sp.org/tlog-witness), and
// GET /log/checkpoint serves them with the cosignature, which torchwood's
// verifier checks with the witness's key, and which a verifier knowing
// only the log's key ignores. The witness cosigns a later checkpoint too,
// so the consistency proof from the one it cosigned held; and again after
// a restart of serve, which starts knowing nothing of the witness and
// learns its size from it. A witness that never answers holds nothing up.
func TestWitness(t *testing.T) {
	w := startLitewitness(t, "witness.test/w1")
	vkey, err := certlog.VerifierKey(testLogKey)
	if err != nil {
		t.Fatal(err)
	}
	logKey, err := note.NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	w.addLog(t, logKey.Name(), vkey)
	silent := silentServer(t)

	addr := freeAddr(t)
	s, simURL, carriers := standaloneSim(t, "http://"+addr, time.Second)
	args := []string{"--db", filepath.Join(t.TempDir(), "witness.db"), "--sim-addr", "off", "--twilio-api-url", simURL,
		"--carriers", carriers, "--twilio-auth-token", "test-token", "--merge-delay", "100ms",
		"--witness", w.url, "--witness", silent, "--witness-key", w.vkey, "--witness-timeout", "500ms"}
	srv := serve(t, addr, args...)

	phone := 20
	give := func(n int) {
		t.Helper()
		for range n {
			d := &donor{t: t, sim: s, phone: fmt.Sprintf("+121255501%02d", phone), to: "62262"}
			phone++
			d.say("GIVE 10")
			d.next(reConfirm)
			d.say("YES")
			d.say(d.next(rePIN)[1])
			d.next(reReceipt)
		}
	}
	start := time.Now()
	give(3)
	w.checkCosigned(t, srv, logKey, 3, start)
	give(3)
	w.checkCosigned(t, srv, logKey, 6, start)
	if size := w.size(t, logKey.Name()); size != 6 {
		t.Errorf("the witness's latest tree has size %d, want 6", size)
	}
	if !strings.Contains(srv.out.String(), "level=ERROR msg=witness witness="+silent) {
		t.Errorf("the silent witness's failure is not logged:\n%s", srv.out.String())
	}

	srv.stop()
	srv = serve(t, addr, args...)
	give(1)
	w.checkCosigned(t, srv, logKey, 7, start)
	srv.stop()
}

// checkCosigned waits until the server's checkpoint has size records and
// the witness's cosignature, and checks it: the log's key alone opens it,
// and the log's key and torchwood's verifier of the witness's key find
// both signatures valid.
func (w *litewitness) checkCosigned(t *testing.T, srv *server, logKey note.Verifier, size int64, since time.Time) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(srv.url + "/log/checkpoint")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		c, err := certlog.OpenCheckpoint(b, logKey)
		if err != nil {
			t.Fatalf("the served checkpoint does not open with the log's key alone: %v\n%s", err, b)
		}
		if c.N > size {
			t.Fatalf("checkpoint of size %d, want %d", c.N, size)
		}
		n, err := note.Open(b, note.VerifierList(logKey, w.verifier))
		if err != nil {
			t.Fatalf("checkpoint of size %d: %v\n%s", c.N, err, b)
		}
		if c.N == size && len(n.Sigs) == 2 {
			if n.Sigs[0].Name != logKey.Name() || n.Sigs[1].Name != w.verifier.Name() {
				t.Errorf("signatures %+v, want the log's then the witness's", n.Sigs)
			}
			at, err := torchwood.CosignatureTimestamp(n.Sigs[1])
			if err != nil || at < since.Unix() || at > time.Now().Unix() {
				t.Errorf("cosignature time %d (%v), want between %d and now", at, err, since.Unix())
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no cosigned checkpoint of size %d; served:\n%s\nserve:\n%s\nlitewitness:\n%s", size, b, srv.out.String(), w.out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// litewitness is a litewitness process on loopback.
type litewitness struct {
	url, db string
	// verifier is torchwood's verifier of the witness's cosignatures, and
	// vkey its verifier key.
	verifier *torchwood.CosignatureVerifier
	vkey     string
	out      *lockedBuffer
}

// witnessUnavailable skips the test, or fails it where the witness must
// run.
func witnessUnavailable(t *testing.T, format string, args ...any) {
	t.Helper()
	if os.Getenv(EnvRequireWitness) == "1" {
		t.Fatalf("cannot run litewitness (%s=1): "+format, append([]any{EnvRequireWitness}, args...)...)
	}
	t.Skipf("cannot run litewitness (set %s=1 to fail instead): "+format, append([]any{EnvRequireWitness}, args...)...)
}

var (
	litewitnessOnce sync.Once
	litewitnessDir  string // removed by TestMain
	litewitnessBin  string
	litewitnessErr  error
)

// buildLitewitness builds litewitness once per test run, at the version of
// filippo.io/torchwood that go.mod requires, with that module's own go.mod:
// `go install filippo.io/torchwood/cmd/litewitness@VERSION`.
func buildLitewitness(t *testing.T) string {
	t.Helper()
	litewitnessOnce.Do(func() {
		out, err := exec.Command("go", "list", "-m", "-f", "{{.Version}}", "filippo.io/torchwood").CombinedOutput()
		if err != nil {
			litewitnessErr = fmt.Errorf("go list -m filippo.io/torchwood: %v\n%s", err, out)
			return
		}
		version := strings.TrimSpace(string(out))
		dir, err := os.MkdirTemp("", "litewitness-bin")
		if err != nil {
			litewitnessErr = err
			return
		}
		litewitnessDir = dir
		cmd := exec.Command("go", "install", "filippo.io/torchwood/cmd/litewitness@"+version)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GOBIN="+dir, "GOFLAGS=-mod=mod", "GOWORK=off")
		if out, err := cmd.CombinedOutput(); err != nil {
			litewitnessErr = fmt.Errorf("go install litewitness@%s: %v\n%s", version, err, out)
			return
		}
		litewitnessBin = filepath.Join(dir, "litewitness")
	})
	if litewitnessErr != nil {
		witnessUnavailable(t, "%v", litewitnessErr)
	}
	return litewitnessBin
}

// startLitewitness runs litewitness named name on loopback, its Ed25519
// key held by an ssh-agent of its own, as its README says to run it.
func startLitewitness(t *testing.T, name string) *litewitness {
	t.Helper()
	for _, tool := range []string{"ssh-keygen", "ssh-agent", "ssh-add"} {
		if _, err := exec.LookPath(tool); err != nil {
			witnessUnavailable(t, "%v", err)
		}
	}
	bin := buildLitewitness(t)
	// A short directory: a socket's path has at most about 100 bytes.
	dir, err := os.MkdirTemp("", "lw")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	key, sock := filepath.Join(dir, "key"), filepath.Join(dir, "agent.sock")
	if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", key).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen: %v\n%s", err, out)
	}
	agent := exec.Command("ssh-agent", "-D", "-a", sock)
	agentOut := &lockedBuffer{}
	agent.Stdout, agent.Stderr = agentOut, agentOut
	if err := agent.Start(); err != nil {
		witnessUnavailable(t, "ssh-agent: %v", err)
	}
	t.Cleanup(func() { agent.Process.Kill(); agent.Wait() })
	waitFor(t, func() bool { _, err := os.Stat(sock); return err == nil }, "ssh-agent's socket: "+agentOut.String())
	add := exec.Command("ssh-add", key)
	add.Env = append(os.Environ(), "SSH_AUTH_SOCK="+sock)
	if out, err := add.CombinedOutput(); err != nil {
		t.Fatalf("ssh-add: %v\n%s", err, out)
	}
	pub, fingerprint := readSSHKey(t, key+".pub")

	addr := freeAddr(t)
	w := &litewitness{url: "http://" + addr, db: filepath.Join(dir, "litewitness.db"), out: &lockedBuffer{}}
	cmd := exec.Command(bin, "-name", name, "-db", w.db, "-ssh-agent", sock, "-key", fingerprint, "-listen", addr)
	cmd.Stdout, cmd.Stderr = w.out, w.out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() { cmd.Process.Kill(); <-exited })
	waitFor(t, func() bool {
		select {
		case <-exited:
			t.Fatalf("litewitness exited:\n%s", w.out.String())
		default:
		}
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
		}
		return err == nil
	}, "litewitness to listen")

	// torchwood v0.6.1 has no parser of cosigner keys: its verifier comes
	// from a cosigner built on the witness's public key alone.
	cs, err := torchwood.NewCosignatureSigner(name, publicKey(pub))
	if err != nil {
		t.Fatal(err)
	}
	w.verifier = cs.Verifier()
	w.vkey = w.verifier.String()
	if !strings.Contains(w.out.String(), "vkey="+w.vkey) {
		t.Fatalf("litewitness does not log the verifier key %s:\n%s", w.vkey, w.out.String())
	}
	return w
}

// publicKey is an Ed25519 public key as a crypto.Signer that cannot sign.
type publicKey ed25519.PublicKey

func (k publicKey) Public() crypto.PublicKey { return ed25519.PublicKey(k) }
func (k publicKey) Sign(io.Reader, []byte, crypto.SignerOpts) ([]byte, error) {
	return nil, errors.New("no private key")
}

// readSSHKey reads an OpenSSH Ed25519 public key file and returns the key
// and its SHA256 fingerprint, as ssh-keygen -l shows it.
func readSSHKey(t *testing.T, file string) (ed25519.PublicKey, string) {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(b))
	if len(f) < 2 || f[0] != "ssh-ed25519" {
		t.Fatalf("%s: %q is not an Ed25519 key", file, b)
	}
	blob, err := base64.StdEncoding.DecodeString(f[1])
	if err != nil {
		t.Fatal(err)
	}
	// string "ssh-ed25519", string key (RFC 8709)
	rest := blob
	var parts [][]byte
	for len(rest) >= 4 {
		n := uint32(rest[0])<<24 | uint32(rest[1])<<16 | uint32(rest[2])<<8 | uint32(rest[3])
		if uint64(len(rest)-4) < uint64(n) {
			break
		}
		parts = append(parts, rest[4:4+n])
		rest = rest[4+n:]
	}
	if len(parts) != 2 || string(parts[0]) != "ssh-ed25519" || len(parts[1]) != ed25519.PublicKeySize || len(rest) != 0 {
		t.Fatalf("%s: malformed Ed25519 key", file)
	}
	sum := sha256.Sum256(blob)
	return ed25519.PublicKey(parts[1]), "SHA256:" + base64.RawStdEncoding.EncodeToString(sum[:])
}

// addLog makes the log known to the witness with its key, as
// `witnessctl add-log` and `witnessctl add-key` do: a row in each of its
// tables. (witnessctl itself needs a module the Go proxy here does not
// serve.) litewitness reads them on each request.
func (w *litewitness) addLog(t *testing.T, origin, vkey string) {
	t.Helper()
	db := w.open(t)
	defer db.Close()
	empty := sha256.Sum256(nil) // the root hash of the empty tree (RFC 6962)
	if _, err := db.Exec(`INSERT INTO log (origin, tree_size, tree_hash) VALUES (?, 0, ?)`, origin, base64.StdEncoding.EncodeToString(empty[:])); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`INSERT INTO key (origin, key) VALUES (?, ?)`, origin, vkey); err != nil {
		t.Fatal(err)
	}
}

// size is the size of the log's latest tree in the witness's database.
func (w *litewitness) size(t *testing.T, origin string) int64 {
	t.Helper()
	db := w.open(t)
	defer db.Close()
	var n int64
	if err := db.QueryRow(`SELECT tree_size FROM log WHERE origin = ?`, origin).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func (w *litewitness) open(t *testing.T) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+w.db+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	return db
}

// silentServer listens on loopback and never answers; it returns its URL.
func silentServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return "http://" + ln.Addr().String()
}

// waitFor polls ok for up to 10 s.
func waitFor(t *testing.T, ok func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestServeWitnessFlags: --witness and --witness-key, from flags or from
// SHORTCODE_WITNESS and SHORTCODE_WITNESS_KEY, comma-separated; a witness
// without a key, a key without a witness, a malformed key or URL are
// usage errors.
func TestServeWitnessFlags(t *testing.T) {
	cs, err := torchwood.NewCosignatureSigner("witness.test/w1", publicKey(make([]byte, ed25519.PublicKeySize)))
	if err != nil {
		t.Fatal(err)
	}
	vkey := cs.Verifier().String()
	main := func(args ...string) (*Main, error) {
		c, _, err := parse(append([]string{"serve"}, args...), io.Discard, io.Discard)
		if err != nil {
			return nil, err
		}
		return c.Serve.main(io.Discard), nil
	}
	m, err := main("--witness", "http://127.0.0.1:1/a", "--witness", "https://w.example/b", "--witness-key", vkey)
	if err != nil || len(m.Witnesses) != 2 || m.Witnesses[1] != "https://w.example/b" || len(m.WitnessKeys) != 1 || m.WitnessTimeout != 5*time.Second {
		t.Errorf("flags: %+v, %v", m, err)
	}
	t.Setenv("SHORTCODE_WITNESS", "http://127.0.0.1:1/a,http://127.0.0.1:2/b")
	t.Setenv("SHORTCODE_WITNESS_KEY", vkey)
	if m, err := main("--witness-timeout", "2s"); err != nil || len(m.Witnesses) != 2 || m.WitnessKeys[0] != vkey || m.WitnessTimeout != 2*time.Second {
		t.Errorf("environment: %+v, %v", m, err)
	}
	t.Setenv("SHORTCODE_WITNESS", "")
	t.Setenv("SHORTCODE_WITNESS_KEY", "")
	noteKey, err := certlog.VerifierKey(testLogKey) // a note key, not a cosigner's
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--witness", "http://127.0.0.1:1"}, "--witness needs the witnesses' keys, --witness-key"},
		{[]string{"--witness-key", vkey}, "--witness-key without --witness"},
		{[]string{"--witness", "127.0.0.1:1", "--witness-key", vkey}, `--witness "127.0.0.1:1": want an http:// or https:// URL`},
		{[]string{"--witness", "ftp://w.example", "--witness-key", vkey}, `--witness "ftp://w.example": want an http://`},
		{[]string{"--witness", "http://127.0.0.1:1", "--witness-key", noteKey}, "--witness-key \"" + noteKey + "\": certlog: not an Ed25519 cosigner key"},
		{[]string{"--witness", "http://127.0.0.1:1", "--witness-key", vkey, "--witness-timeout", "0s"}, "--witness-timeout 0s: want a positive duration"},
	} {
		var u *usageError
		if _, err := main(tt.args...); !errors.As(err, &u) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("serve %q: %v, want a usage error with %q", tt.args, err, tt.want)
		}
	}
}
