package main

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/shortcode/shortcode/storage/storagetest"
)

// privatePostgres is a PostgreSQL server of the test's own, which it may
// stop and start; the shared test server cannot be stopped under the
// other packages' tests.
type privatePostgres struct {
	t         *testing.T
	bin, data string
	port      string
	asUser    []string // runs a command as the postgres user
}

// startPrivatePostgres starts one, or skips (fails when PostgreSQL is
// required) where the machine has none to start.
func startPrivatePostgres(t *testing.T) *privatePostgres {
	t.Helper()
	need := func(why string) *privatePostgres {
		if os.Getenv(storagetest.EnvRequirePostgres) == "1" {
			t.Fatalf("a private PostgreSQL is needed: %s", why)
		}
		t.Skipf("no private PostgreSQL: %s", why)
		return nil
	}
	bins, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	if len(bins) == 0 {
		return need("no initdb under /usr/lib/postgresql")
	}
	sort.Strings(bins)
	p := &privatePostgres{t: t, bin: filepath.Dir(bins[len(bins)-1])}
	dir, err := os.MkdirTemp("", "shortcode-readyz-pg")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if u, err := user.Current(); err == nil && u.Uid == "0" {
		if _, err := user.Lookup("postgres"); err != nil {
			return need("running as root with no postgres user")
		}
		p.asUser = []string{"runuser", "-u", "postgres", "--"}
		if out, err := exec.Command("chown", "-R", "postgres:", dir).CombinedOutput(); err != nil {
			t.Fatalf("chown: %v %s", err, out)
		}
	}
	p.data = filepath.Join(dir, "data")
	addr := freeAddr(t)
	p.port = addr[strings.LastIndex(addr, ":")+1:]
	p.run("initdb", "-D", p.data, "--auth=trust", "--username=postgres", "--no-sync")
	p.start()
	t.Cleanup(func() { p.ctl("stop", "-m", "immediate") })
	return p
}

func (p *privatePostgres) run(name string, args ...string) {
	p.t.Helper()
	argv := append(append([]string{}, p.asUser...), append([]string{filepath.Join(p.bin, name)}, args...)...)
	if out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput(); err != nil {
		p.t.Fatalf("%s: %v\n%s", name, err, out)
	}
}

func (p *privatePostgres) ctl(args ...string) {
	p.t.Helper()
	p.run("pg_ctl", append([]string{"-D", p.data, "-w", "-t", "60"}, args...)...)
}

func (p *privatePostgres) start() {
	p.t.Helper()
	p.ctl("-l", filepath.Join(p.data, "server.log"), "-o",
		"-p "+p.port+" -c listen_addresses=127.0.0.1 -k "+p.data+" -c fsync=off", "start")
}

func (p *privatePostgres) dsn() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%s/postgres?sslmode=disable", p.port)
}

// TestReadyzFollowsPostgres: /readyz answers 503 within 2 s of PostgreSQL
// stopping while /healthz still answers, and 200 again once it is back,
// without restarting the server.
func TestReadyzFollowsPostgres(t *testing.T) {
	pg := startPrivatePostgres(t)
	addr := freeAddr(t)
	srv := serve(t, addr, "--db", pg.dsn(), "--sim-addr", freeAddr(t))
	status := func(path string) int {
		c := http.Client{Timeout: 5 * time.Second}
		resp, err := c.Get(srv.url + path)
		if err != nil {
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	waitFor := func(want int, within time.Duration) time.Duration {
		t.Helper()
		start := time.Now()
		for time.Since(start) < within {
			if status("/readyz") == want {
				return time.Since(start)
			}
			time.Sleep(50 * time.Millisecond)
		}
		t.Fatalf("/readyz did not answer %d within %v:\n%s", want, within, srv.out.String())
		return 0
	}
	waitFor(200, 5*time.Second)
	pg.ctl("stop", "-m", "fast") // returns once the server is down
	if took := waitFor(503, 5*time.Second); took > 2*time.Second+500*time.Millisecond {
		t.Errorf("/readyz took %v to answer 503 after PostgreSQL stopped; want within 2 s", took)
	}
	if got := status("/healthz"); got != 200 {
		t.Errorf("/healthz = %d while PostgreSQL is down, want 200 (the process is alive)", got)
	}
	pg.start()
	took := waitFor(200, 10*time.Second)
	t.Logf("ready again %v after PostgreSQL started", took)
	srv.stop()
}
