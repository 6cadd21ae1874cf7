package main

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/shortcode/shortcode/donation/auth"
)

// TestProfiles: serve --pprof serves the Go profiles to admins only, and
// without the flag there are none.
func TestProfiles(t *testing.T) {
	get := func(t *testing.T, url, token string) (int, string) {
		t.Helper()
		req, err := http.NewRequest(http.MethodGet, url, nil)
		if err != nil {
			t.Fatal(err)
		}
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}

	m := startMainWith(t, testDriver(), func(m *Main) { m.Profile = true })
	admin, treasurer, auditor := tokenFor(t, m, auth.Admin), tokenFor(t, m, auth.Treasurer), tokenFor(t, m, auth.Auditor)
	for _, path := range []string{"/debug/pprof/", "/debug/pprof/heap?debug=1", "/debug/pprof/goroutine?debug=1", "/debug/pprof/cmdline"} {
		for _, tc := range []struct {
			token string
			want  int
		}{{"", http.StatusUnauthorized}, {"sc_forged", http.StatusUnauthorized}, {treasurer, http.StatusForbidden}, {auditor, http.StatusForbidden}, {admin, http.StatusOK}} {
			code, body := get(t, m.URL+path, tc.token)
			if code != tc.want {
				t.Errorf("GET %s with %.8q: %d, want %d", path, tc.token, code, tc.want)
			}
			if code == http.StatusOK && path == "/debug/pprof/heap?debug=1" && !strings.Contains(body, "heap profile") {
				t.Errorf("GET %s: no heap profile in %.100q", path, body)
			}
		}
	}

	plain := startMain(t, testDriver())
	if code, _ := get(t, plain.URL+"/debug/pprof/", tokenFor(t, plain, auth.Admin)); code != http.StatusNotFound {
		t.Errorf("without --pprof, GET /debug/pprof/ = %d, want 404", code)
	}
}
