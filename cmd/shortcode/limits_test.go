package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/shortcode/shortcode/donation/httpserver"
)

// These tests hold connections open as slow clients do, against a real
// `shortcode serve` process and the simulator, and check that the server
// closes them, keeps to --max-conns, and shuts down in time.

// slowConn is a connection held by the test; done is closed when the
// server closed it (or the test gave up waiting), with err and at set.
type slowConn struct {
	net.Conn
	done chan struct{}
	err  error     // nil when the server closed it: EOF or a reset
	at   time.Time // when the close was seen
}

// watch reads what the server sends until it closes the connection, for
// at most within.
func (c *slowConn) watch(r io.Reader, within time.Duration) {
	c.done = make(chan struct{})
	c.SetReadDeadline(time.Now().Add(within))
	go func() {
		defer close(c.done)
		_, err := io.Copy(io.Discard, r)
		c.at = time.Now()
		if err != nil && !errors.Is(err, syscall.ECONNRESET) {
			c.err = err
		}
	}()
}

// closed reports whether the server closed the connection yet.
func (c *slowConn) closed() bool {
	select {
	case <-c.done:
		return c.err == nil
	default:
		return false
	}
}

// holdIdle makes a keep-alive GET of path on addr, reads the answer, and
// holds the connection idle for at most within.
func holdIdle(t *testing.T, addr, path string, within time.Duration) *slowConn {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: %s\r\n\r\n", path, addr)
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("GET %s on a held connection: %v", path, err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Close {
		t.Fatalf("GET %s on a held connection: %s, close %v", path, resp.Status, resp.Close)
	}
	c := &slowConn{Conn: conn}
	c.SetWriteDeadline(time.Time{})
	c.watch(br, within)
	return c
}

// trickle posts to path on addr a request announcing a 1000 byte body, and
// sends a byte of it a second while the connection lasts, for at most
// within.
func trickle(t *testing.T, addr, path string, within time.Duration) *slowConn {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	c := &slowConn{Conn: conn}
	c.watch(conn, within)
	fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\nB", path, addr)
	go func() {
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			select {
			case <-c.done:
				return
			case <-tick.C:
				if _, err := conn.Write([]byte("o")); err != nil {
					return
				}
			}
		}
	}()
	return c
}

// probe is a GET on a connection of its own; done is closed when it
// ended, with err and at set.
type probe struct {
	done chan struct{}
	err  error
	at   time.Time
}

func get(url string, within time.Duration) *probe {
	p := &probe{done: make(chan struct{})}
	go func() {
		defer close(p.done)
		client := &http.Client{Timeout: within, Transport: &http.Transport{DisableKeepAlives: true}}
		resp, err := client.Get(url)
		p.at = time.Now()
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode != 200 {
				err = fmt.Errorf("GET %s: %s", url, resp.Status)
			}
		}
		p.err = err
	}()
	return p
}

// checkLimits holds maxConns idle connections to addr after a GET of path
// on each, then starts another GET and total-maxConns-1 slow POSTs of
// postPath behind them. It checks that the GET waits until a held
// connection is closed, that every connection is closed by the server, the
// idle ones within about idle and the others about read after they are
// let in, and that the GET then succeeds.
func checkLimits(t *testing.T, addr, path, postPath string, total, maxConns int, idle, read time.Duration) {
	t.Helper()
	const within = 20 * time.Second // for all; a bound for failures only
	start := time.Now()
	var held []*slowConn
	for range maxConns {
		held = append(held, holdIdle(t, addr, path, within))
	}
	waiting := get("http://"+addr+path, within)
	all := held
	for range total - maxConns - 1 {
		all = append(all, trickle(t, addr, postPath, within))
	}

	// The GET cannot be served while the held connections fill the
	// server, unless one of them was closed already (a slow machine).
	time.Sleep(500 * time.Millisecond)
	select {
	case <-waiting.done:
		time.Sleep(200 * time.Millisecond) // for a close to be seen
		closed := 0
		for _, c := range held {
			if c.closed() {
				closed++
			}
		}
		if closed == 0 {
			t.Fatalf("a GET beyond --max-conns %d was served (err %v) while %d connections were held", maxConns, waiting.err, maxConns)
		}
		t.Logf("a held connection was closed before the GET was seen waiting (slow machine?); not checking the limit")
	default:
	}

	stillOpen := 0
	for _, c := range all {
		<-c.done
		if c.err != nil {
			stillOpen++
		}
	}
	if stillOpen > 0 {
		t.Errorf("%d of %d connections (%d held idle, then slow posts) still open after %v", stillOpen, len(all), maxConns, time.Since(start))
	}
	<-waiting.done
	if waiting.err != nil {
		t.Errorf("the GET waiting for a free connection: %v", waiting.err)
	}
	first, last := within, time.Duration(0)
	for _, c := range held {
		first = min(first, c.at.Sub(start))
		last = max(last, c.at.Sub(start))
	}
	// Generous: the server's idle clock starts at its answer.
	if last > idle+5*time.Second {
		t.Errorf("a held idle connection lasted %v, --idle-timeout %v", last, idle)
	}
	// Seen from here, a close and the answer it lets through may come in
	// either order; a GET let through at once would come long before.
	if waiting.at.Before(start.Add(first - 500*time.Millisecond)) {
		t.Errorf("the GET beyond --max-conns was served after %v, before any held connection was closed (%v)", waiting.at.Sub(start), first)
	}
	for _, c := range all {
		last = max(last, c.at.Sub(start))
	}
	// The slow posts are let in maxConns at a time, each cut after read.
	waves := time.Duration((total - 1) / maxConns)
	if last > idle+waves*read+5*time.Second {
		t.Errorf("the slow posts lasted until %v, --read-timeout %v, %d at a time", last, read, maxConns)
	}
	t.Logf("%d connections: the first held one closed after %v, the waiting GET served after %v, all closed after %v",
		total, first, waiting.at.Sub(start), last)

	if t.Failed() {
		return
	}
	// And the server still answers.
	p := get("http://"+addr+path, 10*time.Second)
	<-p.done
	if p.err != nil {
		t.Errorf("a GET after the slow clients left: %v", p.err)
	}
}

// TestServeCutsSlowClients: idle keep-alive connections and posts whose
// body trickles in are closed after the configured timeouts, and no more
// than --max-conns are served at once.
func TestServeCutsSlowClients(t *testing.T) {
	addr := freeAddr(t)
	const maxConns, idle, read = 20, 2 * time.Second, time.Second
	serve(t, addr, "--db", filepath.Join(t.TempDir(), "slow.db"), "--sim-addr", freeAddr(t),
		"--read-timeout", read.String(), "--idle-timeout", idle.String(), "--write-timeout", "5s",
		"--max-conns", fmt.Sprint(maxConns))
	// serve's health checks may have left one; it must not use a place.
	http.DefaultClient.CloseIdleConnections()
	checkLimits(t, addr, "/healthz", "/gateways/twilio/sms", 50, maxConns, idle, read)
}

// TestServeShutdownWithSlowClient: SIGTERM while a client trickles its
// body ends the process, with status 0, within --shutdown-timeout.
func TestServeShutdownWithSlowClient(t *testing.T) {
	addr := freeAddr(t)
	const shutdownTimeout = time.Second
	s := serve(t, addr, "--db", filepath.Join(t.TempDir(), "shutdown.db"), "--sim-addr", freeAddr(t),
		"--read-timeout", "30s", "--shutdown-timeout", shutdownTimeout.String())
	http.DefaultClient.CloseIdleConnections()
	c := trickle(t, addr, "/gateways/twilio/sms", 20*time.Second)
	time.Sleep(300 * time.Millisecond) // for the server to read the header

	start := time.Now()
	s.cmd.Process.Signal(syscall.SIGTERM)
	exited := make(chan error, 1)
	go func() { exited <- s.cmd.Wait() }()
	select {
	case err := <-exited:
		took := time.Since(start)
		t.Logf("exited %v after SIGTERM: %v", took, err)
		if err != nil {
			t.Errorf("serve exited with %v:\n%s", err, s.out)
		}
		if took > shutdownTimeout+4*time.Second {
			t.Errorf("serve took %v to exit, --shutdown-timeout %v", took, shutdownTimeout)
		}
	case <-time.After(shutdownTimeout + 15*time.Second):
		s.cmd.Process.Kill()
		<-exited
		t.Fatalf("serve still running %v after SIGTERM:\n%s", time.Since(start), s.out)
	}
	<-c.done
	if c.err != nil {
		t.Errorf("the slow client's connection: %v", c.err)
	}
	if !strings.Contains(s.out.String(), "closed the connections left") {
		t.Errorf("no word of the connections closed at shutdown:\n%s", s.out)
	}
}

// startSim runs `shortcode sim` with args in the test process until the
// test ends, and returns its address and how it ended.
func startSim(t *testing.T, args ...string) (addr string, stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	logs := &lockedBuffer{}
	done := make(chan error, 1)
	go func() {
		done <- runSim(ctx, append([]string{"--addr", "127.0.0.1:0", "--twilio-auth-token", "tok"}, args...), logs)
	}()
	stop = func() error {
		cancel()
		select {
		case err := <-done:
			done <- err
			return err
		case <-time.After(20 * time.Second):
			t.Fatalf("runSim still running 20s after its context ended:\n%s", logs)
			return nil
		}
	}
	t.Cleanup(func() { stop() })
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		select {
		case err := <-done:
			t.Fatalf("runSim returned early: %v\n%s", err, logs)
		default:
		}
		if _, rest, ok := strings.Cut(logs.String(), `msg="simulator listening" url=http://`); ok {
			return strings.Fields(rest)[0], stop
		}
		if time.Now().After(deadline) {
			t.Fatalf("no listening line in the log:\n%s", logs)
		}
	}
}

// TestSimCutsSlowClients: the standalone simulator keeps to its timeouts
// and --max-conns too, and shuts down in time with a request in flight.
func TestSimCutsSlowClients(t *testing.T) {
	const maxConns, idle, read, shutdownTimeout = 10, time.Second, time.Second, 500 * time.Millisecond
	// Carrier answers take 20 s: a request in flight at shutdown.
	addr, stop := startSim(t, "--read-timeout", read.String(), "--idle-timeout", idle.String(),
		"--max-conns", fmt.Sprint(maxConns), "--shutdown-timeout", shutdownTimeout.String(), "--latency", "20s")
	checkLimits(t, addr, "/sim/faults", "/sim/faults", 30, maxConns, idle, read)

	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	c := &slowConn{Conn: conn}
	c.watch(conn, 20*time.Second)
	fmt.Fprintf(conn, "GET /lookup/v1/tel:%%2B12125550100 HTTP/1.1\r\nHost: %s\r\n\r\n", addr)
	time.Sleep(300 * time.Millisecond)
	start := time.Now()
	err = stop()
	took := time.Since(start)
	t.Logf("runSim returned %v after its context ended: %v", took, err)
	if err != nil {
		t.Errorf("runSim: %v", err)
	}
	if took > shutdownTimeout+4*time.Second {
		t.Errorf("runSim took %v to return, --shutdown-timeout %v", took, shutdownTimeout)
	}
	<-c.done
	if c.err != nil {
		t.Errorf("the request in flight at shutdown: %v", c.err)
	}
}

func TestServeLimitFlags(t *testing.T) {
	limits := func(args ...string) (httpserver.Limits, error) {
		c, _, err := parse(append([]string{"serve"}, args...), io.Discard, io.Discard)
		if err != nil {
			return httpserver.Limits{}, err
		}
		return c.Serve.main(io.Discard).Limits, nil
	}
	if l, err := limits(); err != nil || l != httpserver.DefaultLimits {
		t.Errorf("no flags: limits %+v (%v), want the defaults %+v", l, err, httpserver.DefaultLimits)
	}
	t.Setenv("SHORTCODE_MAX_CONNS", "7")
	t.Setenv("SHORTCODE_IDLE_TIMEOUT", "1d")
	want := httpserver.DefaultLimits
	want.MaxConns, want.Write, want.Idle = 7, 45*time.Second, 24*time.Hour
	if l, err := limits("--write-timeout", "45s"); err != nil || l != want {
		t.Errorf("limits %+v (%v), want %+v", l, err, want)
	}
	want.MaxConns = 8 // a flag beats its variable
	if l, err := limits("--write-timeout", "45s", "--max-conns", "8"); err != nil || l != want {
		t.Errorf("limits %+v (%v), want %+v", l, err, want)
	}
	for _, args := range [][]string{{"--shutdown-timeout", "-1s"}, {"--read-timeout", "0"}, {"--max-conns", "many"}} {
		var u *usageError
		if _, err := limits(args...); !errors.As(err, &u) || !strings.Contains(err.Error(), args[0]) {
			t.Errorf("serve %q: %v, want a usage error about %s", args, err, args[0])
		}
	}
}

// runSim runs `shortcode sim` with args until ctx is done.
func runSim(ctx context.Context, args []string, stderr io.Writer) error {
	return run(ctx, append([]string{"sim"}, args...), strings.NewReader(""), io.Discard, stderr)
}
