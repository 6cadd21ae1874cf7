package httpserver_test

import (
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shortcode/shortcode/donation/httpserver"
)

// requests keeps what a server's observer is told.
type requests struct {
	mu  sync.Mutex
	got []string
}

func (o *requests) Request(route, method string, code int, _ time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.got = append(o.got, method+" "+route+" "+http.StatusText(code))
}

// TestRequestObserver checks that every request is observed by its
// route's template, never by the path as requested, with the code answered;
// requests that match no route, and made-up methods, too.
func TestRequestObserver(t *testing.T) {
	hs := httpserver.New(nil, nil, nil, "v-test")
	obs := &requests{}
	hs.Requests = obs
	hs.Route(http.MethodGet, "/things/{phone}", nil, func(w http.ResponseWriter, r *http.Request) error {
		w.WriteHeader(http.StatusAccepted)
		return nil
	})
	hs.Route(http.MethodGet, "/panics", nil, func(w http.ResponseWriter, r *http.Request) error {
		panic("boom")
	})
	srv := httptest.NewServer(hs.Handler())
	defer srv.Close()
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, req := range []struct{ method, path string }{
		{"GET", "/healthz"},
		{"HEAD", "/healthz"},
		{"GET", "/things/+12125550100"},
		{"GET", "/nothing/+12125550100"},
		{"POST", "/healthz"},
		{"BREW", "/healthz"},
		{"GET", "/panics"},
		{"GET", "/things/../healthz"},
	} {
		r, err := http.NewRequest(req.method, srv.URL+req.path, nil)
		if err != nil {
			t.Fatal(err)
		}
		r.URL.Opaque = req.path // keep the path as written, dots and all
		resp, err := client.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	want := []string{
		"GET /healthz OK",
		"HEAD /healthz OK",
		"GET /things/{phone} Accepted",
		"GET unmatched Not Found",
		"POST unmatched Method Not Allowed",
		"OTHER unmatched Method Not Allowed",
		"GET /panics Internal Server Error",
		"GET unmatched Moved Permanently",
	}
	obs.mu.Lock()
	defer obs.mu.Unlock()
	if !reflect.DeepEqual(obs.got, want) {
		t.Errorf("observed\n%s\nwant\n%s", strings.Join(obs.got, "\n"), strings.Join(want, "\n"))
	}
}
