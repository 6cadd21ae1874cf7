package main

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/shortcode/shortcode/carrier/sim"
)

// textCmd is `shortcode text` as a process, with its stdin held open
// until the test closes it.
type textCmd struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stdout *screen
	stderr *lockedBuffer
	done   chan error
}

func startText(t *testing.T, args ...string) *textCmd {
	t.Helper()
	c := &textCmd{stdout: &screen{}, stderr: &lockedBuffer{}, done: make(chan error, 1)}
	c.cmd = exec.Command(binary(t), append([]string{"text"}, args...)...)
	c.cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	c.cmd.Stdout, c.cmd.Stderr = c.stdout, c.stderr
	var err error
	if c.stdin, err = c.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { c.done <- c.cmd.Wait() }()
	t.Cleanup(func() {
		c.stdin.Close()
		c.cmd.Process.Kill()
		<-c.done
	})
	return c
}

func (c *textCmd) say(line string) { fmt.Fprintln(c.stdin, line) }

// wait returns the process's exit status, or fails the test if it is
// still running after d.
func (c *textCmd) wait(t *testing.T, d time.Duration) int {
	t.Helper()
	select {
	case err := <-c.done:
		c.done <- err // for the cleanup
		var exit *exec.ExitError
		if err != nil && !errors.As(err, &exit) {
			t.Fatal(err)
		}
		if exit != nil && exit.ExitCode() < 0 {
			t.Fatalf("text was killed by a signal: %v\nstderr:\n%s", err, c.stderr)
		}
		return c.cmd.ProcessState.ExitCode()
	case <-time.After(d):
		t.Fatalf("text still running %v later\nstdout:\n%s\nstderr:\n%s", d, c.stdout, c.stderr)
		return 0
	}
}

// TestTextSignals: with stdin held open, as at a terminal, `shortcode text`
// exits at once, and cleanly, on Ctrl-C and on SIGTERM.
func TestTextSignals(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			// An empty inbox that says when it was first read: by then
			// the command is past its start-up.
			polled := make(chan struct{})
			var once sync.Once
			inbox := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				fmt.Fprint(w, `{"messages":[]}`)
				once.Do(func() { close(polled) })
			}))
			defer inbox.Close()

			c := startText(t, "--from", "+12125550100", "--sim", inbox.URL)
			select {
			case <-polled:
			case <-time.After(20 * time.Second):
				t.Fatalf("text never read the inbox\nstderr:\n%s", c.stderr)
			}
			time.Sleep(100 * time.Millisecond) // into the input loop
			c.cmd.Process.Signal(sig)
			if code := c.wait(t, time.Second); code != 0 {
				t.Errorf("exit status %d, want 0\nstderr:\n%s", code, c.stderr)
			}
		})
	}
}

// TestTextLateReceipt: at end of input, `shortcode text` waits for the
// last MO's answer, here a receipt that the carrier's latency holds back
// well past --idle.
func TestTextLateReceipt(t *testing.T) {
	addr := freeAddr(t)
	s, simURL, carriers := standaloneSim(t, "http://"+addr, time.Second)
	serve(t, addr, "--db", filepath.Join(t.TempDir(), "late.db"), "--sim-addr", "off", "--twilio-api-url", simURL,
		"--carriers", carriers, "--twilio-auth-token", "test-token")

	c := startText(t, "--from", "+12125550123", "--sim", simURL, "--idle", "1s")
	c.say("GIVE 10")
	c.stdout.waitFor(t, regexp.MustCompile(`(?m)^< Reply YES to give \$10`))
	c.say("YES")
	pin := c.stdout.waitFor(t, regexp.MustCompile(`(?m)^< Your PIN is ([0-9]{6})\.`))[1]
	const latency = 3 * time.Second
	s.SetFaults(sim.Faults{Latency: latency})
	c.say(pin)
	c.stdin.Close()
	if code := c.wait(t, latency+10*time.Second); code != 0 {
		t.Errorf("exit status %d, want 0\nstderr:\n%s", code, c.stderr)
	}
	if !regexp.MustCompile(`(?m)^< Thank you! \$10 to Demo PAC`).MatchString(c.stdout.String()) {
		t.Errorf("no receipt printed:\n%s", c.stdout)
	}
}

// TestTextUndelivered: an MO the webhook refuses is reported, and the
// command exits 1.
func TestTextUndelivered(t *testing.T) {
	refuse := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "forbidden", http.StatusForbidden)
	}))
	defer refuse.Close()
	_, simURL, _ := standaloneSim(t, refuse.URL, time.Second)

	c := startText(t, "--from", "+12125550100", "--sim", simURL, "--idle", "200ms")
	c.say("GIVE")
	c.stdin.Close()
	if code := c.wait(t, 10*time.Second); code != 1 {
		t.Errorf("exit status %d, want 1\nstderr:\n%s", code, c.stderr)
	}
	if got := c.stderr.String(); !strings.Contains(got, "not delivered") || strings.Contains(got, "5550100") {
		t.Errorf("stderr = %q, want the failure, with the number masked", got)
	}
}
