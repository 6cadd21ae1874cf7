package httpserver

import (
	"cmp"
	"context"
	"errors"
	"net"
	"net/http"
	"time"

	"golang.org/x/net/netutil"
)

// Limits bound what clients can hold of an HTTP server, so that slow or
// idle ones cannot pile up. Zero fields mean the defaults.
type Limits struct {
	// Read is how long a client may take to send a whole request, body
	// included; Write how long from then until its answer is written,
	// which must cover the slowest handler; Idle how long a keep-alive
	// connection may wait for its next request.
	Read, Write, Idle time.Duration
	// MaxConns is how many connections are open at once; more wait to be
	// accepted.
	MaxConns int
	// Shutdown is how long requests in flight get to finish on shutdown
	// before their connections are closed.
	Shutdown time.Duration
}

// DefaultLimits are serve's. A webhook body is a few hundred bytes, so 10 s
// to send it is ample; an MO handler waits for the database and a number
// lookup bounded at 10 s (donation.Service), well within 30 s.
var DefaultLimits = Limits{
	Read:     10 * time.Second,
	Write:    30 * time.Second,
	Idle:     60 * time.Second,
	MaxConns: 1000,
	Shutdown: 5 * time.Second,
}

// OrDefaults returns l with its zero fields set to DefaultLimits'.
func (l Limits) OrDefaults() Limits {
	return Limits{
		Read:     cmp.Or(l.Read, DefaultLimits.Read),
		Write:    cmp.Or(l.Write, DefaultLimits.Write),
		Idle:     cmp.Or(l.Idle, DefaultLimits.Idle),
		MaxConns: cmp.Or(l.MaxConns, DefaultLimits.MaxConns),
		Shutdown: cmp.Or(l.Shutdown, DefaultLimits.Shutdown),
	}
}

// NewHTTPServer returns a server of h held to l, and ln accepting at most
// l.MaxConns connections at once, for the server to serve.
func NewHTTPServer(h http.Handler, ln net.Listener, l Limits) (*http.Server, net.Listener) {
	l = l.OrDefaults()
	srv := &http.Server{
		Handler:        h,
		ReadTimeout:    l.Read, // and, as ReadHeaderTimeout is unset, for the header
		WriteTimeout:   l.Write,
		IdleTimeout:    l.Idle,
		MaxHeaderBytes: 64 << 10,
	}
	return srv, netutil.LimitListener(ln, l.MaxConns)
}

// Shutdown stops srv accepting connections and waits for those open to go
// idle until ctx is done, then closes those left. It reports whether it
// had to close any.
func Shutdown(ctx context.Context, srv *http.Server) (forced bool, err error) {
	err = srv.Shutdown(ctx)
	if err == nil || !errors.Is(err, ctx.Err()) {
		return false, err
	}
	// A client slower than the deadline must not stop the process from
	// exiting; the error Close may return for the listener Shutdown
	// already closed says nothing new.
	srv.Close()
	return true, nil
}
