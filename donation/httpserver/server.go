// Package httpserver is shortcode's one HTTP server: every route group
// (the gateway's webhooks, the operator API, health checks, later the donor
// pages and the auditor log) on one gorilla/mux router, behind the same
// middleware: a request id, panic recovery, a body size limit, token
// authentication with a role declared by every route, and an observer told
// of every request by its route's template, for metrics.
//
// Handlers return errors; the kind of a domain error (donation.KindOf)
// picks its status from one table (statusOf) and the answer is an RFC 9457
// problem body. No handler writes a status code for a domain error.
package httpserver

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gorilla/mux"

	"github.com/shortcode/shortcode/donation"
	"github.com/shortcode/shortcode/donation/auth"
)

// DefaultMaxBody is the largest request body an API route reads, unless
// the route says otherwise.
const DefaultMaxBody = 1 << 20

// Tokens finds API tokens by the hash of their secret.
type Tokens interface {
	// TokenByHash returns the token, revoked or not, or an error wrapping
	// donation.ErrNotFound.
	TokenByHash(ctx context.Context, hash string) (auth.Token, error)
}

// Server is the HTTP server's routes and middleware: build it with New,
// add routes and route groups, and serve Handler.
type Server struct {
	// Log receives one line per failed request and every refused token;
	// nil discards.
	Log *slog.Logger
	// Tokens authenticates API requests; nil refuses every one.
	Tokens Tokens
	// Ready tells whether the server can do its work (the store answers,
	// its migrations are applied); nil means always.
	Ready func(context.Context) error
	// Version is reported by GET /version.
	Version string
	// Requests is told of every request answered, for metrics; nil
	// observes nothing.
	Requests RequestObserver

	router *mux.Router
}

// New returns a server with the health routes: GET /healthz (the process
// answers), GET /readyz (Ready), GET /version.
func New(log *slog.Logger, tokens Tokens, ready func(context.Context) error, version string) *Server {
	s := &Server{Log: log, Tokens: tokens, Ready: ready, Version: version, router: mux.NewRouter()}
	s.router.MethodNotAllowedHandler = http.HandlerFunc(s.methodNotAllowed)
	s.router.NotFoundHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.writeError(w, r, fmt.Errorf("no route %s: %w", maskedPath(r), donation.ErrNotFound))
	})
	s.router.Use(nameRoute, s.withRequestID, s.recoverPanics)
	s.Route(http.MethodGet, "/healthz", nil, s.healthz)
	s.Route(http.MethodGet, "/readyz", nil, s.readyz)
	s.Route(http.MethodGet, "/version", nil, s.version)
	return s
}

// Handler returns the server's handler.
func (s *Server) Handler() http.Handler { return s.observe(s.router) }

// Group is a set of routes that registers itself with Route, such as the
// gateway's webhooks.
type Group interface {
	Register(s *Server)
}

// Mount adds a route group.
func (s *Server) Mount(g Group) { g.Register(s) }

// Walk calls fn with the method and path template of every route.
func (s *Server) Walk(fn func(method, path string)) error {
	return s.router.Walk(func(route *mux.Route, _ *mux.Router, _ []*mux.Route) error {
		path, err := route.GetPathTemplate()
		if err != nil {
			return nil
		}
		methods, _ := route.GetMethods()
		for _, m := range methods {
			fn(m, path)
		}
		return nil
	})
}

// HandlerFunc is a route's handler: it writes a success answer, or returns
// an error for the server to answer.
type HandlerFunc func(w http.ResponseWriter, r *http.Request) error

// Route adds a route: method and path (gorilla/mux patterns), the roles
// allowed (none: no token needed) and the handler. GET routes answer HEAD
// too. Request bodies are limited to DefaultMaxBody.
func (s *Server) Route(method, path string, roles []auth.Role, h HandlerFunc) {
	s.RouteMax(method, path, roles, DefaultMaxBody, h)
}

// RouteMax is Route for a route whose request bodies may reach maxBody
// bytes, such as a file upload.
func (s *Server) RouteMax(method, path string, roles []auth.Role, maxBody int64, h HandlerFunc) {
	methods := []string{method}
	if method == http.MethodGet {
		methods = append(methods, http.MethodHead)
	}
	s.router.Handle(path, s.wrap(roles, maxBody, h)).Methods(methods...)
}

// wrap puts authentication, the body limit and error answers around h.
func (s *Server) wrap(roles []auth.Role, maxBody int64, h HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if len(roles) > 0 {
			tok, err := s.authenticate(r, roles)
			if err != nil {
				if donation.KindOf(err) == donation.Unauthenticated {
					w.Header().Set("WWW-Authenticate", `Bearer realm="shortcode"`)
				}
				s.writeError(w, r, err)
				return
			}
			r = r.WithContext(context.WithValue(r.Context(), tokenKey{}, tok))
		}
		if err := plainText(r); err != nil {
			s.writeError(w, r, err)
			return
		}
		if r.Body != nil {
			r.Body = http.MaxBytesReader(w, r.Body, maxBody)
		}
		if err := h(w, r); err != nil {
			s.writeError(w, r, err)
		}
	})
}

type tokenKey struct{}

// plainText refuses a path variable or query parameter that is not UTF-8
// text or holds a NUL: no route takes one, and PostgreSQL refuses to
// compare text with either (a 500 instead of the 400 it deserves).
func plainText(r *http.Request) error {
	for name, v := range mux.Vars(r) {
		if !isText(v) {
			return fmt.Errorf("path: %s: not UTF-8 text: %w", name, donation.ErrInvalid)
		}
	}
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil // the handler's Query says what is wrong
	}
	for name, vs := range q {
		for _, v := range append(vs, name) {
			if !isText(v) {
				return fmt.Errorf("query parameter %.40q: not UTF-8 text: %w", name, donation.ErrInvalid)
			}
		}
	}
	return nil
}

// isText reports whether s is UTF-8 without a NUL.
func isText(s string) bool {
	return utf8.ValidString(s) && !strings.ContainsRune(s, 0)
}

// Caller returns the token a request was authenticated with.
func Caller(ctx context.Context) (auth.Token, bool) {
	t, ok := ctx.Value(tokenKey{}).(auth.Token)
	return t, ok
}

// Actor names the caller in the action log: "token:ID (name)".
func Actor(ctx context.Context) string {
	t, ok := Caller(ctx)
	if !ok {
		return "anonymous"
	}
	return fmt.Sprintf("token:%s (%s)", t.ID, t.Name)
}

// authenticate finds the request's token and checks its role. Refusals
// are logged with the token's id when known, never its secret.
func (s *Server) authenticate(r *http.Request, roles []auth.Role) (auth.Token, error) {
	h := r.Header.Get("Authorization")
	scheme, secret, _ := strings.Cut(h, " ")
	secret = strings.TrimSpace(secret)
	refuse := func(reason string, err error, tok auth.Token) (auth.Token, error) {
		s.log().Warn("API request refused", "reason", reason, "method", r.Method, "path", maskedPath(r),
			"token", tok.ID, "remote", r.RemoteAddr, "request_id", requestID(r.Context()))
		return auth.Token{}, err
	}
	switch {
	case h == "":
		return refuse("no token", fmt.Errorf("%w: send Authorization: Bearer TOKEN", donation.ErrUnauthenticated), auth.Token{})
	case !strings.EqualFold(scheme, "Bearer") || !auth.LooksLike(secret):
		return refuse("malformed token", fmt.Errorf("%w: not a shortcode token", donation.ErrUnauthenticated), auth.Token{})
	case s.Tokens == nil:
		return refuse("no token store", fmt.Errorf("%w: no tokens configured", donation.ErrUnauthenticated), auth.Token{})
	}
	tok, err := s.Tokens.TokenByHash(r.Context(), auth.Hash(secret))
	switch {
	case errors.Is(err, donation.ErrNotFound):
		return refuse("unknown token", fmt.Errorf("%w: unknown token", donation.ErrUnauthenticated), auth.Token{})
	case err != nil:
		return auth.Token{}, fmt.Errorf("look up token: %w: %w", donation.ErrUnavailable, err)
	case !tok.Active():
		return refuse("revoked token", fmt.Errorf("%w: token revoked", donation.ErrUnauthenticated), tok)
	case !slices.Contains(roles, tok.Role):
		return refuse("wrong role", fmt.Errorf("%w: a %s token may not do this (needs %s)", donation.ErrForbidden, tok.Role, joinRoles(roles)), tok)
	}
	return tok, nil
}

func joinRoles(roles []auth.Role) string {
	s := make([]string, len(roles))
	for i, r := range roles {
		s[i] = string(r)
	}
	return strings.Join(s, " or ")
}

// methodNotAllowed answers 405 with the Allow header listing the methods
// the path has.
func (s *Server) methodNotAllowed(w http.ResponseWriter, r *http.Request) {
	var allow []string
	_ = s.router.Walk(func(route *mux.Route, _ *mux.Router, _ []*mux.Route) error {
		var m mux.RouteMatch
		probe := r.Clone(r.Context())
		methods, err := route.GetMethods()
		if err != nil {
			return nil
		}
		for _, method := range methods {
			probe.Method = method
			if route.Match(probe, &m) && m.MatchErr == nil && !slices.Contains(allow, method) {
				allow = append(allow, method)
			}
		}
		return nil
	})
	slices.Sort(allow)
	w.Header().Set("Allow", strings.Join(allow, ", "))
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(http.StatusMethodNotAllowed)
	fmt.Fprintf(w, `{"type":"about:blank","title":"Method Not Allowed","status":405,"kind":"invalid","detail":"allowed: %s"}`+"\n", strings.Join(allow, ", "))
}

type requestIDKey struct{}

func requestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// withRequestID gives every request an id, echoed in X-Request-Id and in
// problem bodies, so that an operator can find its log lines. A client's
// own id is kept when it is short and plain.
func (s *Server) withRequestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("X-Request-Id")
		if len(id) == 0 || len(id) > 64 || strings.Trim(id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") != "" {
			var b [8]byte
			rand.Read(b[:])
			id = hex.EncodeToString(b[:])
		}
		w.Header().Set("X-Request-Id", id)
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), requestIDKey{}, id)))
	})
}

// recoverPanics answers a panicking handler with a 500 problem and logs it,
// instead of dropping the connection.
func (s *Server) recoverPanics(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				s.writeError(w, r, fmt.Errorf("panic: %v", p))
			}
		}()
		next.ServeHTTP(w, r)
	})
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, err := w.Write([]byte("ok\n"))
	return err
}

// readyz answers 200 when Ready does within two seconds, else 503.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) error {
	if s.Ready != nil {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := s.Ready(ctx); err != nil {
			return fmt.Errorf("not ready: %w: %w", donation.ErrUnavailable, err)
		}
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, err := w.Write([]byte("ready\n"))
	return err
}

func (s *Server) version(w http.ResponseWriter, r *http.Request) error {
	return writeJSON(w, http.StatusOK, map[string]string{"version": s.Version})
}

func (s *Server) log() *slog.Logger {
	if s.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.Log
}
