package main

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shortcode/shortcode/donation/auth"
	"github.com/shortcode/shortcode/storage"
	"github.com/shortcode/shortcode/storage/storagetest"
)

// TestKillLeavesChangeAndLogTogether: SPEC §11. Treasurer changes through
// the API are killed mid-flight (SIGKILL, many at once, some between the
// change and its commit): afterwards every change has its action-log row
// and every row its change. Neither outlives the other.
func TestKillLeavesChangeAndLogTogether(t *testing.T) {
	dsn := storagetest.DSN(t, storage.Postgres)
	ctx := context.Background()
	db, err := storage.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	tok, secret, hash, err := auth.New(nil, "kill test", auth.Treasurer, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := db.CreateToken(ctx, tok, hash, "test"); err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	srv := serve(t, addr, "--db", dsn, "--sim-addr", freeAddr(t))

	var sent, answered atomic.Int64
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := http.Client{Timeout: 5 * time.Second}
			for i := 0; ; i++ {
				n := w*1000 + i
				body := fmt.Sprintf(`{"phone":"+1202555%04d","committee":"","reason":"kill-%d"}`, n%10000, n)
				req, _ := http.NewRequest(http.MethodPost, srv.url+"/api/v1/blocklist", strings.NewReader(body))
				req.Header.Set("Authorization", "Bearer "+secret)
				sent.Add(1)
				resp, err := c.Do(req)
				if err != nil {
					return // the server is gone
				}
				resp.Body.Close()
				answered.Add(1)
			}
		}()
	}
	deadline := time.Now().Add(10 * time.Second)
	for answered.Load() < 50 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	srv.kill()
	wg.Wait()
	if answered.Load() < 50 {
		t.Fatalf("only %d requests answered before the kill:\n%s", answered.Load(), srv.out.String())
	}

	blocks, err := db.Blocklist(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	acts, err := db.Actions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	reason := regexp.MustCompile(`reason="(kill-\d+)"`)
	logged := map[string]int{}
	for _, a := range acts {
		if a.Action == "blocklist.add" {
			if m := reason.FindStringSubmatch(a.Detail); m != nil {
				logged[m[1]]++
			}
		}
	}
	changed := map[string]bool{}
	for _, b := range blocks {
		if strings.HasPrefix(b.Reason, "kill-") {
			changed[b.Reason] = true
			if logged[b.Reason] != 1 {
				t.Errorf("blocked with %s, logged %d times", b.Reason, logged[b.Reason])
			}
		}
	}
	for r, n := range logged {
		if !changed[r] {
			t.Errorf("%s logged %d times but not blocked", r, n)
		}
	}
	t.Logf("%d requests sent, %d answered before SIGKILL; %d changes, each with its one row", sent.Load(), answered.Load(), len(changed))
}
