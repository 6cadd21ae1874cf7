package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/shortcode/shortcode/donation/auth"
	"github.com/shortcode/shortcode/storage/storagetest"
)

// TestDemoLinksFollowPublicURL: the demo program's links follow
// --public-url on every start, not only the first; a URL its texts cannot
// hold leaves them as they were and the server starts anyway.
func TestDemoLinksFollowPublicURL(t *testing.T) {
	for _, driver := range storagetest.Drivers {
		t.Run(driver, func(t *testing.T) {
			dsn := storagetest.DSN(t, driver)
			for _, tc := range []struct{ publicURL, terms, donation string }{
				{"", "", ""}, // http://ADDR, a port of the moment
				{"https://sc.example/", "sc.example/t/demo", "sc.example/d/"},
				{"http://give.example.org", "give.example.org/t/demo", "give.example.org/d/"},
				{"https://a-much-too-long-host.example.org", "give.example.org/t/demo", "give.example.org/d/"},
			} {
				m := NewMain()
				m.LogKey = testLogKey
				m.DB, m.Addr, m.SimAddr, m.PublicURL = dsn, "127.0.0.1:0", "127.0.0.1:0", tc.publicURL
				m.LogKey = testLogKey
				m.Log = slog.New(slog.DiscardHandler)
				if err := m.Start(context.Background()); err != nil {
					t.Fatalf("start with --public-url %q: %v", tc.publicURL, err)
				}
				p, err := m.Store.Program(context.Background(), "demo")
				if tc.terms == "" {
					tc.terms, tc.donation = m.URL[len("http://"):]+"/t/demo", m.URL[len("http://"):]+"/d/"
				}
				if err != nil || p.TermsURL != tc.terms || p.DonationURL != tc.donation {
					t.Errorf("--public-url %q: links %q, %q (%v), want %q, %q", tc.publicURL, p.TermsURL, p.DonationURL, err, tc.terms, tc.donation)
				}
				// serve mounts the program routes: an auditor reads the same.
				tok, secret, hash, err := auth.New(nil, "audit", auth.Auditor, time.Now())
				if err != nil || m.Store.CreateToken(context.Background(), tok, hash, "test") != nil {
					t.Fatal(err)
				}
				req, _ := http.NewRequest("GET", m.URL+"/api/v1/programs/demo", nil)
				req.Header.Set("Authorization", "Bearer "+secret)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 || !strings.Contains(string(body), `"terms_url":"`+tc.terms+`"`) {
					t.Errorf("GET /api/v1/programs/demo: %d %s", resp.StatusCode, body)
				}
				if err := m.Close(); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}
