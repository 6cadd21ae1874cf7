package httpserver

import (
	"net/http"
	"net/http/pprof"

	"github.com/shortcode/shortcode/donation/auth"
)

// Profiler serves the Go runtime's profiles (net/http/pprof) under
// /debug/pprof/ to admins (`serve --pprof`), to fetch with the admin token
// and read with `go tool pprof`:
//
//	curl -H "Authorization: Bearer $TOKEN" -o cpu.prof 'http://127.0.0.1:8080/debug/pprof/profile?seconds=20'
//
// A CPU profile or trace must be shorter than the server's write timeout.
type Profiler struct{}

// Register adds the profile routes.
func (Profiler) Register(s *Server) {
	admin := []auth.Role{auth.Admin}
	serve := func(h http.HandlerFunc) HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) error {
			h(w, r)
			return nil
		}
	}
	s.Route(http.MethodGet, "/debug/pprof/", admin, serve(pprof.Index))
	s.Route(http.MethodGet, "/debug/pprof/cmdline", admin, serve(pprof.Cmdline))
	s.Route(http.MethodGet, "/debug/pprof/profile", admin, serve(pprof.Profile))
	s.Route(http.MethodGet, "/debug/pprof/symbol", admin, serve(pprof.Symbol))
	s.Route(http.MethodGet, "/debug/pprof/trace", admin, serve(pprof.Trace))
	// The named profiles: heap, goroutine, allocs, block, mutex, ...
	s.Route(http.MethodGet, "/debug/pprof/{name}", admin, serve(pprof.Index))
}
