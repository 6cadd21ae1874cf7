package main

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/shortcode/shortcode/carrier/sim"
	"github.com/shortcode/shortcode/carrier/twilio"
	"github.com/shortcode/shortcode/storage"
)

// TestShutdownUnderLoad: SIGTERM while donors text (SPEC §10 (5)). Besides
// the crowd, four clients post MOs to the webhook without pause, each on
// a connection of its own. At SIGTERM every request the server had taken
// is answered: a request may be refused a connection, or reset while it
// waits in the listen queue, but none is read and left unanswered (its MO
// would be stored). The process exits 0 within --shutdown-timeout, its
// workers stopped (the gateway gets nothing more from it); every MO
// acknowledged is stored. Restarted on the same database, the server
// completes the conversations, and every invariant holds.
func TestShutdownUnderLoad(t *testing.T) {
	dsn, addr, g := chaosPostgres(t)
	g.SetFaults(sim.Faults{Latency: 100 * time.Millisecond, MessagesLatency: 50 * time.Millisecond})
	const deadline = 3 * time.Second
	args := chaosArgs(dsn, g, "--shutdown-timeout", deadline.String())
	srv := serve(t, addr, args...)
	c := newCrowd(t, g.Sim, "+1312555", 21)
	c.stopRate = 0.02
	c.start(16)

	// The webhook clients: HELP from numbers of their own (answered, and
	// changing no donation), until the server refuses their connections.
	var answered, refused, across atomic.Int64
	var term atomic.Int64 // when SIGTERM was sent, in Unix nanoseconds
	var mu sync.Mutex
	reset := map[string]string{} // MessageSid -> number of the requests reset
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
			for i := 0; ; i++ {
				number := fmt.Sprintf("+1415555%04d", 1000+w*1000+i%1000)
				form := moForm(number, "62262", "HELP")
				sent := time.Now().UnixNano()
				code, err := postSigned(hc, srv.url, twilio.SMSPath, form)
				if at := term.Load(); err == nil && at != 0 && sent < at {
					across.Add(1) // in flight at SIGTERM, and answered
				}
				switch {
				case errors.Is(err, syscall.ECONNREFUSED):
					refused.Add(1)
					return
				case err != nil && term.Load() != 0:
					mu.Lock()
					reset[form.Get("MessageSid")] = number
					mu.Unlock()
					return
				case err != nil:
					t.Errorf("webhook: %v", err)
					return
				case code != http.StatusOK:
					t.Errorf("webhook answered %d", code)
					return
				}
				answered.Add(1)
				c.mos.add(number, sim.Delivery{SID: form.Get("MessageSid"), Status: code})
			}
		}()
	}
	time.Sleep(3 * time.Second)

	before := c.receipts.Load()
	start := time.Now()
	term.Store(start.UnixNano())
	srv.cmd.Process.Signal(syscall.SIGTERM)
	err := srv.cmd.Wait()
	took := time.Since(start)
	wg.Wait()
	if err != nil {
		t.Errorf("serve exited with %v after SIGTERM:\n%s", err, srv.out.String())
	}
	if took > deadline+time.Second {
		t.Errorf("serve took %v to exit after SIGTERM, over --shutdown-timeout %v", took, deadline)
	}
	if out := srv.out.String(); !strings.Contains(out, "shutting down") || strings.Contains(out, "shutdown timeout passed") {
		t.Errorf("serve did not shut down cleanly within its timeout:\n%s", out)
	}
	if across.Load() == 0 {
		t.Errorf("no webhook request was in flight at SIGTERM: the test tested nothing")
	}
	t.Logf("SIGTERM: exit 0 after %v; the webhook clients had %d answers (%d to requests in flight at SIGTERM), then %d refused connections, %d connections reset",
		took.Round(time.Millisecond), answered.Load(), across.Load(), refused.Load(), len(reset))

	// Stopped: nothing more reaches the gateway, and everything
	// acknowledged is stored.
	texts := len(g.Messages(""))
	time.Sleep(time.Second)
	if n := len(g.Messages("")); n != texts {
		t.Errorf("the gateway got %d texts after the server exited", n-texts)
	}
	checkAcknowledgedStored(t, dsn, c.mos)
	checkNotStored(t, dsn, reset)

	srv = serve(t, addr, args...)
	if !waitUntil(30*time.Second, func() bool { return c.receipts.Load() >= before+10 }) {
		t.Errorf("only %d receipts within 30 s of the restart", c.receipts.Load()-before)
	}
	settle(t, c, g, dsn, srv)
	srv.stop()
}

// checkAcknowledgedStored: SPEC §10 (5) at one moment, with no server
// running: every MO acknowledged so far is in the database.
func checkAcknowledgedStored(t *testing.T, dsn string, mos *moLog) {
	t.Helper()
	ctx := context.Background()
	db, err := storage.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	mos.mu.Lock()
	acked := maps.Clone(mos.acked)
	mos.mu.Unlock()
	stored, read := map[string]bool{}, map[string]bool{}
	for _, phone := range acked {
		if read[phone] {
			continue
		}
		read[phone] = true
		ms, err := db.MOs(ctx, phone)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range ms {
			stored[m.MessageID] = true
		}
	}
	for sid, phone := range acked {
		if !stored[sid] {
			t.Errorf("MO %s from %s was acknowledged but is not stored", sid, phone)
		}
	}
	t.Logf("%d MOs acknowledged before the shutdown, all stored", len(acked))
}

// checkNotStored: the requests reset at shutdown were never read: their
// MOs are not stored. (One stored would have been taken and not answered.)
func checkNotStored(t *testing.T, dsn string, sids map[string]string) {
	t.Helper()
	ctx := context.Background()
	db, err := storage.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for sid, phone := range sids {
		ms, err := db.MOs(ctx, phone)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range ms {
			if m.MessageID == sid {
				t.Errorf("MO %s from %s was stored, but its request was reset at shutdown, never answered", sid, phone)
			}
		}
	}
}
