package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"time"

	"golang.org/x/net/netutil"
)

// httpLimits bound what clients can hold of an HTTP server, so that slow
// or idle ones cannot pile up. Zero fields mean the defaults.
type httpLimits struct {
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

// defaultLimits are serve's. A webhook body is a few hundred bytes, so 10 s
// to send it is ample; an MO handler waits for the database and a number
// lookup bounded at 10 s (donation.Service.lookup), well within 30 s.
var defaultLimits = httpLimits{
	Read:     10 * time.Second,
	Write:    30 * time.Second,
	Idle:     60 * time.Second,
	MaxConns: 1000,
	Shutdown: 5 * time.Second,
}

// simWriteTimeout is the least write timeout of a simulator: a phone's MO
// is answered once the webhook took it, after up to sim.DefaultAttempts
// posts of up to 10 s each.
const simWriteTimeout = 2 * time.Minute

func (l httpLimits) orDefaults() httpLimits {
	return httpLimits{
		Read:     cmp.Or(l.Read, defaultLimits.Read),
		Write:    cmp.Or(l.Write, defaultLimits.Write),
		Idle:     cmp.Or(l.Idle, defaultLimits.Idle),
		MaxConns: cmp.Or(l.MaxConns, defaultLimits.MaxConns),
		Shutdown: cmp.Or(l.Shutdown, defaultLimits.Shutdown),
	}
}

// newServer returns a server of h held to l, and ln accepting at most
// l.MaxConns connections at once, for the server to serve.
func newServer(h http.Handler, ln net.Listener, l httpLimits) (*http.Server, net.Listener) {
	l = l.orDefaults()
	srv := &http.Server{
		Handler:        h,
		ReadTimeout:    l.Read, // and, as ReadHeaderTimeout is unset, for the header
		WriteTimeout:   l.Write,
		IdleTimeout:    l.Idle,
		MaxHeaderBytes: 64 << 10,
	}
	return srv, netutil.LimitListener(ln, l.MaxConns)
}

// shutdown stops srv accepting connections and waits for those open to
// go idle until ctx is done, then closes those left. It reports whether
// it had to close any.
func shutdown(ctx context.Context, srv *http.Server) (forced bool, err error) {
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

// limitFlags are the flags of httpLimits, read as strings so that each
// defaults to its SHORTCODE_* variable.
type limitFlags struct {
	read, write, idle, shutdown, maxConns string
}

// defineLimitFlags defines the flags of httpLimits on fs, defaulting to def.
func defineLimitFlags(fs *flag.FlagSet, def httpLimits) *limitFlags {
	f := new(limitFlags)
	stringFlag(fs, &f.read, "read-timeout", def.Read.String(), "how long a client may take to send a request, body included")
	stringFlag(fs, &f.write, "write-timeout", def.Write.String(), "how long a request may take from then until its answer is written; must exceed the slowest handler")
	stringFlag(fs, &f.idle, "idle-timeout", def.Idle.String(), "how long an idle keep-alive connection is kept open")
	stringFlag(fs, &f.maxConns, "max-conns", strconv.Itoa(def.MaxConns), "how many connections may be open at once; more wait to be accepted")
	stringFlag(fs, &f.shutdown, "shutdown-timeout", def.Shutdown.String(), "on SIGTERM, how long requests in flight get to finish before their connections are closed")
	return f
}

// limits parses the flags once fs is parsed; cmd names the command in errors.
func (f *limitFlags) limits(cmd string) (httpLimits, error) {
	var l httpLimits
	for _, d := range []struct {
		name, v string
		p       *time.Duration
	}{{"read-timeout", f.read, &l.Read}, {"write-timeout", f.write, &l.Write}, {"idle-timeout", f.idle, &l.Idle}, {"shutdown-timeout", f.shutdown, &l.Shutdown}} {
		v, err := time.ParseDuration(d.v)
		if err != nil || v <= 0 {
			return l, fmt.Errorf("%s: --%s %q: want a positive duration", cmd, d.name, d.v)
		}
		*d.p = v
	}
	n, err := strconv.Atoi(f.maxConns)
	if err != nil || n <= 0 {
		return l, fmt.Errorf("%s: --max-conns %q: want a positive number", cmd, f.maxConns)
	}
	l.MaxConns = n
	return l, nil
}
