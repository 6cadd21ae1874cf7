package loadtest

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
)

// TestWebhookSpreadsByNumber: with more servers (Also), each number's MOs
// all go to one server, and the numbers are spread over every server.
func TestWebhookSpreadsByNumber(t *testing.T) {
	var mu sync.Mutex
	got := map[string]map[string]bool{} // server -> numbers
	server := func(name string) *httptest.Server {
		s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			defer mu.Unlock()
			if got[name] == nil {
				got[name] = map[string]bool{}
			}
			got[name][r.PostFormValue("From")] = true
		}))
		t.Cleanup(s.Close)
		return s
	}
	a, b, c := server("a"), server("b"), server("c")
	h := &Webhook{URL: a.URL, SignURL: "http://lb.example/sms", Also: []string{b.URL, c.URL},
		AccountSID: "AC00000000000000000000000000000000", AuthToken: "s3cret", HTTP: http.DefaultClient}
	for i := range 60 {
		for range 2 {
			if _, as := h.Send(context.Background(), fmt.Sprintf("+1212555%04d", i), "62262", "GIVE"); !as[len(as)-1].ok() {
				t.Fatalf("send: %+v", as)
			}
		}
	}
	seen := map[string]string{}
	for name, numbers := range got {
		if len(numbers) < 5 {
			t.Errorf("server %s got %d of 60 numbers, want its share", name, len(numbers))
		}
		for n := range numbers {
			if other, ok := seen[n]; ok {
				t.Errorf("%s went to servers %s and %s", n, other, name)
			}
			seen[n] = name
		}
	}
	if len(got) != 3 || len(seen) != 60 {
		t.Errorf("MOs reached %d servers from %d numbers, want 3 and 60", len(got), len(seen))
	}
}
