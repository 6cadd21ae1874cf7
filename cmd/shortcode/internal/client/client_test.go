package client_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/shortcode/shortcode/cmd/shortcode/internal/client"
)

func TestDo(t *testing.T) {
	var got *http.Request
	var body string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got, body = r, string(b)
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"id":"tok_1","name":"ci"}`)
	}))
	defer srv.Close()

	// A server behind a path prefix keeps it.
	c, err := client.New(srv.URL+"/shortcode/", "sc_secret", nil)
	if err != nil {
		t.Fatal(err)
	}
	var out struct{ ID, Name string }
	if err := c.Do(context.Background(), "POST", "/api/v1/tokens", url.Values{"x": {"1 2"}}, map[string]string{"name": "ci"}, &out); err != nil {
		t.Fatal(err)
	}
	if got.URL.Path != "/shortcode/api/v1/tokens" || got.URL.RawQuery != "x=1+2" || got.Header.Get("Authorization") != "Bearer sc_secret" ||
		got.Header.Get("Content-Type") != "application/json" || body != `{"name":"ci"}` {
		t.Errorf("request %s %s?%s %v body %q", got.Method, got.URL.Path, got.URL.RawQuery, got.Header, body)
	}
	if out.ID != "tok_1" || out.Name != "ci" {
		t.Errorf("answer %+v", out)
	}
}

func TestErrors(t *testing.T) {
	var status int
	var ct, answer string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", ct)
		w.WriteHeader(status)
		io.WriteString(w, answer)
	}))
	defer srv.Close()
	c, err := client.New(srv.URL, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		status     int
		ct, answer string
		want       string
	}{
		{404, "application/problem+json", `{"title":"Not Found","status":404,"kind":"not_found","detail":"token tok_x: not found","request_id":"abc"}`, "token tok_x: not found (404, request abc)"},
		{401, "application/problem+json", `{"title":"Unauthorized","status":401}`, "Unauthorized (401)"},
		{502, "text/plain", "upstream down", "502 Bad Gateway: upstream down (502)"},
		{500, "text/plain", "", "Internal Server Error (500)"},
	} {
		status, ct, answer = tt.status, tt.ct, tt.answer
		err := c.Get(context.Background(), "/api/v1/tokens", nil, nil)
		if err == nil || err.Error() != tt.want || client.StatusOf(err) != tt.status {
			t.Errorf("answer %d %q: %v (status %d), want %q", tt.status, tt.answer, err, client.StatusOf(err), tt.want)
		}
	}
}

func TestUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	c, err := client.New("http://"+addr, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	err = c.Get(context.Background(), "/api/v1/tokens", nil, nil)
	var u *client.UnreachableError
	if !errors.As(err, &u) || !strings.Contains(err.Error(), "no answer from a shortcode server at http://"+addr) || strings.Contains(err.Error(), "/api/v1") {
		t.Errorf("unreachable: %v", err)
	}
	for _, bad := range []string{"", "127.0.0.1:8080", "ftp://x", "http://"} {
		if _, err := client.New(bad, "", nil); err == nil {
			t.Errorf("New(%q): no error", bad)
		}
	}
}

// TestDownload: any 2xx body is copied as it is, whatever its type; an
// error answer is a problem, as for Do, and nothing is copied.
func TestDownload(t *testing.T) {
	const checkpoint = "shortcode.example/log\n10\nxTJID+YOWDfJ6edlh+Aj6pBk8tJOvbBVz4f7HxV/IVE=\n"
	var got *http.Request
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r
		if r.URL.Path != "/log/checkpoint" {
			w.Header().Set("Content-Type", "application/problem+json")
			w.WriteHeader(http.StatusForbidden)
			io.WriteString(w, `{"title":"Forbidden","status":403,"detail":"a treasurer token may not do this (needs auditor, admin)"}`)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, checkpoint)
	}))
	defer srv.Close()
	c, err := client.New(srv.URL, "sc_secret", nil)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	n, err := c.Download(context.Background(), "/log/checkpoint", nil, &b)
	if err != nil || b.String() != checkpoint || n != int64(len(checkpoint)) || got.Header.Get("Authorization") != "Bearer sc_secret" {
		t.Errorf("Download = %d %q, %v", n, b.String(), err)
	}
	b.Reset()
	_, err = c.Download(context.Background(), "/api/v1/audit/records", url.Values{"size": {"10"}}, &b)
	if client.StatusOf(err) != 403 || !strings.Contains(err.Error(), "needs auditor, admin") || b.Len() != 0 || got.URL.RawQuery != "size=10" {
		t.Errorf("Download of a refused route: %v, copied %q", err, b.String())
	}
}
