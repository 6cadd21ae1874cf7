package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shortcode/shortcode/carrier/sim"
	"github.com/shortcode/shortcode/storage"
	"github.com/shortcode/shortcode/storage/storagetest"
)

// replies is a Twilio-compatible Messages.json endpoint that takes every MT
// and tells whoever waits for a number's next text that it arrived.
type replies struct {
	mu      sync.Mutex
	waiting map[string]chan struct{}
}

func (g *replies) inbox(phone string) chan struct{} {
	g.mu.Lock()
	defer g.mu.Unlock()
	c, ok := g.waiting[phone]
	if !ok {
		c = make(chan struct{}, 16)
		g.waiting[phone] = c
	}
	return c
}

func (g *replies) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"messages":[],"next_page_uri":null}`)
		return
	}
	to := r.PostFormValue("To")
	var b [16]byte
	rand.Read(b[:])
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	fmt.Fprintf(w, `{"sid":"SM%s","status":"queued"}`, hex.EncodeToString(b[:]))
	g.inbox(to) <- struct{}{}
}

// BenchmarkMOToReply measures a donor's wait for a reply: from the MO
// posted to the webhook (signed, as the simulator's phone endpoint posts
// it) to its reply reaching the gateway's Messages.json, through `serve` on
// a real store with the simulator's carriers. Donors text at once, each
// waiting for its reply before the next text (a closed loop); each
// alternates GIVE 10 (a number lookup, the caps, a reservation) and NO
// (the release). Besides ns/op (wall time over MOs, all donors together)
// it reports MOs/s, and the p50 and p99 of the webhook's answer and of
// the reply, in milliseconds:
//
//	go test ./cmd/shortcode -run '^$' -bench MOToReply -benchtime 2000x
func BenchmarkMOToReply(b *testing.B) {
	for _, driver := range storagetest.Drivers {
		for _, donors := range []int{1, 32} {
			b.Run(fmt.Sprintf("%s/donors=%d", driver, donors), func(b *testing.B) {
				if driver == storage.Postgres && !storagetest.PostgresAvailable() {
					b.Skip("no PostgreSQL configured")
				}
				benchmarkMOToReply(b, driver, donors)
			})
		}
	}
}

func benchmarkMOToReply(b *testing.B, driver string, donors int) {
	gw := &replies{waiting: map[string]chan struct{}{}}
	api := httptest.NewServer(gw)
	defer api.Close()
	m := NewMain()
	m.LogKey = testLogKey
	m.DB = storagetest.DSN(b, driver)
	m.Addr, m.SimAddr = "127.0.0.1:0", "127.0.0.1:0"
	m.TwilioAuthToken = "bench-token"
	m.TwilioAPIURL = api.URL
	m.RateLimit = 1 << 30
	m.Log = slog.New(slog.DiscardHandler)
	if err := m.Start(context.Background()); err != nil {
		b.Fatalf("start: %v", err)
	}
	defer m.Close()

	var (
		next              atomic.Int64
		mu                sync.Mutex
		webhook, replyLat []time.Duration
		wg                sync.WaitGroup
	)
	b.ResetTimer()
	began := time.Now()
	for d := range donors {
		wg.Add(1)
		go func() {
			defer wg.Done()
			phone := fmt.Sprintf("+1212555%04d", d)
			inbox := gw.inbox(phone)
			var hooks, waits []time.Duration
			for i := 0; next.Add(1) <= int64(b.N); i++ {
				body := "GIVE 10"
				if i%2 == 1 {
					body = "NO"
				}
				sent := time.Now()
				got, err := m.Sim.SendMO(context.Background(), sim.PhoneMO{From: phone, To: "62262", Body: body})
				if err != nil || got.Status != http.StatusOK {
					b.Errorf("%s says %q: webhook answered %d, %v", phone, body, got.Status, err)
					return
				}
				hooks = append(hooks, time.Since(sent))
				select {
				case <-inbox:
					waits = append(waits, time.Since(sent))
				case <-time.After(30 * time.Second):
					b.Errorf("%s: no reply to %q within 30s", phone, body)
					return
				}
			}
			mu.Lock()
			defer mu.Unlock()
			webhook = append(webhook, hooks...)
			replyLat = append(replyLat, waits...)
		}()
	}
	wg.Wait()
	elapsed := time.Since(began)
	b.StopTimer()
	if len(replyLat) == 0 {
		return
	}
	b.ReportMetric(float64(len(replyLat))/elapsed.Seconds(), "MOs/s")
	b.ReportMetric(percentile(webhook, 50), "webhook-p50-ms")
	b.ReportMetric(percentile(webhook, 99), "webhook-p99-ms")
	b.ReportMetric(percentile(replyLat, 50), "reply-p50-ms")
	b.ReportMetric(percentile(replyLat, 99), "reply-p99-ms")
	// Where the wait goes, from the server's own metrics: handling the
	// MO, then the MT's time in the outbox.
	b.ReportMetric(meanMillis(b, m, "shortcode_mo_duration_seconds"), "mo-mean-ms")
	b.ReportMetric(meanMillis(b, m, "shortcode_mt_delay_seconds"), "outbox-mean-ms")
}

// meanMillis is the mean of the histogram name of m's metrics, over all
// its series, in milliseconds.
func meanMillis(b *testing.B, m *Main, name string) float64 {
	families, err := m.Metrics.Gatherer().Gather()
	if err != nil {
		b.Fatal(err)
	}
	var sum float64
	var n uint64
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, s := range f.GetMetric() {
			sum += s.GetHistogram().GetSampleSum()
			n += s.GetHistogram().GetSampleCount()
		}
	}
	if n == 0 {
		return 0
	}
	return sum / float64(n) * 1000
}

// percentile returns the p-th percentile of ds, in milliseconds.
func percentile(ds []time.Duration, p int) float64 {
	ds = slices.Clone(ds)
	slices.Sort(ds)
	i := min(len(ds)-1, (len(ds)*p+99)/100-1)
	return float64(ds[max(i, 0)]) / float64(time.Millisecond)
}
