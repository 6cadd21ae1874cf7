package main

import (
	"flag"
	"fmt"
	"strconv"
	"time"

	"github.com/shortcode/shortcode/donation/httpserver"
)

// simWriteTimeout is the least write timeout of a simulator: a phone's MO
// is answered once the webhook took it, after up to sim.DefaultAttempts
// posts of up to 10 s each.
const simWriteTimeout = 2 * time.Minute

// limitFlags are the flags of httpserver.Limits, read as strings so that each
// defaults to its SHORTCODE_* variable.
type limitFlags struct {
	read, write, idle, shutdown, maxConns string
}

// defineLimitFlags defines the flags of httpserver.Limits on fs, defaulting to def.
func defineLimitFlags(fs *flag.FlagSet, def httpserver.Limits) *limitFlags {
	f := new(limitFlags)
	stringFlag(fs, &f.read, "read-timeout", def.Read.String(), "how long a client may take to send a request, body included")
	stringFlag(fs, &f.write, "write-timeout", def.Write.String(), "how long a request may take from then until its answer is written; must exceed the slowest handler")
	stringFlag(fs, &f.idle, "idle-timeout", def.Idle.String(), "how long an idle keep-alive connection is kept open")
	stringFlag(fs, &f.maxConns, "max-conns", strconv.Itoa(def.MaxConns), "how many connections may be open at once; more wait to be accepted")
	stringFlag(fs, &f.shutdown, "shutdown-timeout", def.Shutdown.String(), "on SIGTERM, how long requests in flight get to finish before their connections are closed")
	return f
}

// limits parses the flags once fs is parsed; cmd names the command in errors.
func (f *limitFlags) limits(cmd string) (httpserver.Limits, error) {
	var l httpserver.Limits
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
