package httpserver

import (
	"context"
	"net/http"
	"time"

	"github.com/gorilla/mux"
)

// RequestObserver is told of every request the server answered, for
// metrics. It must return quickly.
type RequestObserver interface {
	// Request is told of one answered request: the path template of its
	// route ("/api/v1/donations/{id}", never the path as requested, which
	// may hold a phone number; Unmatched when no route matched), its
	// method (OtherMethod when not one of net/http's), the status code
	// answered, and how long the answer took.
	Request(route, method string, code int, took time.Duration)
}

// Unmatched is the route of a request that matched no route: a 404, a 405,
// or a redirect to the cleaned path.
const Unmatched = "unmatched"

// OtherMethod is the method of a request whose method is not one of
// net/http's, so that a client cannot make up label values.
const OtherMethod = "OTHER"

type routeKey struct{}

// observe tells s.Requests of every request next answers.
func (s *Server) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.Requests == nil {
			next.ServeHTTP(w, r)
			return
		}
		began := time.Now()
		route := Unmatched
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r.WithContext(context.WithValue(r.Context(), routeKey{}, &route)))
		s.Requests.Request(route, method(r.Method), sw.status(), time.Since(began))
	})
}

// nameRoute records the path template of the route mux matched for observe.
// mux runs it only for a matched route.
func nameRoute(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p, ok := r.Context().Value(routeKey{}).(*string); ok {
			if route := mux.CurrentRoute(r); route != nil {
				if t, err := route.GetPathTemplate(); err == nil {
					*p = t
				}
			}
		}
		next.ServeHTTP(w, r)
	})
}

// method returns m if it is one of net/http's methods, else OtherMethod.
func method(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodConnect, http.MethodOptions, http.MethodTrace:
		return m
	}
	return OtherMethod
}

// statusWriter remembers the status code written through it.
type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.code == 0 && code >= 200 {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// status is the code answered: 200 when the handler wrote nothing.
func (w *statusWriter) status() int {
	if w.code == 0 {
		return http.StatusOK
	}
	return w.code
}
