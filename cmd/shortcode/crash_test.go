package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shortcode/shortcode/carrier/sim"
	"github.com/shortcode/shortcode/storage"
	"github.com/shortcode/shortcode/storage/storagetest"
)

// TestKillBetweenSendAndMark: SPEC §10 (4) and (5), §12.1. The gateway
// takes an MT, then holds its answer; the server is killed while it waits,
// so the MT is at the gateway but not marked sent. Twenty times, with
// HELP replies and opt-out confirmations; after the restarts every number
// has each of its texts exactly once.
func TestKillBetweenSendAndMark(t *testing.T) {
	for _, driver := range storagetest.Drivers {
		t.Run(driver, func(t *testing.T) {
			dsn := filepath.Join(t.TempDir(), "crash.db")
			if driver == storage.Postgres {
				dsn = storagetest.DSN(t, driver)
			}
			killBetweenSendAndMark(t, dsn, 20)
		})
	}
}

func killBetweenSendAndMark(t *testing.T, dsn string, kills int) {
	addr := freeAddr(t)
	s, simURL, carriers := standaloneSim(t, "http://"+addr, time.Second)
	s.SetFaults(sim.Faults{MessagesLatency: 500 * time.Millisecond})
	args := []string{"--db", dsn, "--sim-addr", "off", "--twilio-api-url", simURL, "--carriers", carriers,
		"--twilio-auth-token", "test-token", "--send-lease", "2s", "--send-timeout", "1s"}

	const perRound = 3
	var phones []string
	var logs strings.Builder
	caught := 0
	for round := range kills {
		srv := serve(t, addr, args...)
		body := "HELP"
		if round%2 == 1 {
			body = "STOP"
		}
		var mine []string
		for i := range perRound {
			phone := fmt.Sprintf("+1212555%02d%02d", round, i)
			mine = append(mine, phone)
			got, err := s.SendMO(context.Background(), sim.PhoneMO{From: phone, To: "62262", Body: body})
			if err != nil || got.Status != 200 {
				t.Fatalf("round %d: %s says %s: %+v, %v", round, phone, body, got, err)
			}
		}
		phones = append(phones, mine...)
		// Kill as soon as the gateway has taken one of this round's texts:
		// its answer is held, so the server has not marked it sent.
		deadline := time.Now().Add(10 * time.Second)
		for !anyTaken(s, mine) && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		if anyTaken(s, mine) {
			caught++
		}
		srv.kill()
		logs.WriteString(srv.out.String())
	}
	if caught < kills {
		t.Errorf("only %d of %d kills came between a send and its mark", caught, kills)
	}

	final := serve(t, addr, args...)
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) && !allAnswered(s, phones) {
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond) // a late second copy would show now
	final.stop()
	logs.WriteString(final.out.String())
	for _, phone := range phones {
		copies := map[string]int{}
		for _, m := range s.Messages(phone) {
			copies[m.Body]++
		}
		if len(copies) != 1 {
			t.Errorf("%s got %d different texts: %v", phone, len(copies), copies)
		}
		for body, n := range copies {
			if n != 1 {
				t.Errorf("%s got %d copies of %q", phone, n, body)
			}
		}
	}
	if t.Failed() {
		t.Logf("last server's log:\n%s", final.out.String())
	}
	if !strings.Contains(logs.String(), "mt found at the gateway") {
		t.Errorf("no MT was resolved at the gateway after the restarts")
	}
}

func anyTaken(s *sim.Sim, phones []string) bool {
	for _, p := range phones {
		if len(s.Messages(p)) > 0 {
			return true
		}
	}
	return false
}

func allAnswered(s *sim.Sim, phones []string) bool {
	for _, p := range phones {
		if len(s.Messages(p)) == 0 {
			return false
		}
	}
	return true
}
