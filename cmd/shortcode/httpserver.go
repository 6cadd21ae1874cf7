package main

import (
	"fmt"
	"time"

	"github.com/shortcode/shortcode/donation/httpserver"
)

// simWriteTimeout is the least write timeout of a simulator: a phone's MO
// is answered once the webhook took it, after up to sim.DefaultAttempts
// posts of up to 10 s each. It is sim's default (the kong variable
// write_timeout of the sim command).
const simWriteTimeout = 2 * time.Minute

// limitFlags are the HTTP server limits of serve and sim
// (httpserver.Limits); their defaults are kong variables, which sim
// overrides for its write timeout.
type limitFlags struct {
	ReadTimeout     time.Duration `default:"${read_timeout}" help:"How long a client may take to send a request, body included."`
	WriteTimeout    time.Duration `default:"${write_timeout}" help:"How long a request may take from then until its answer is written; must exceed the slowest handler."`
	IdleTimeout     time.Duration `default:"${idle_timeout}" help:"How long an idle keep-alive connection is kept open."`
	MaxConns        int           `default:"${max_conns}" help:"How many connections may be open at once; more wait to be accepted."`
	ShutdownTimeout time.Duration `default:"${shutdown_timeout}" help:"On SIGTERM or interrupt, how long requests in flight get to finish before their connections are closed."`
}

// limits returns the limits, or an error naming the flag out of range.
func (f *limitFlags) limits() (httpserver.Limits, error) {
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"read-timeout", f.ReadTimeout}, {"write-timeout", f.WriteTimeout}, {"idle-timeout", f.IdleTimeout}, {"shutdown-timeout", f.ShutdownTimeout}} {
		if d.v <= 0 {
			return httpserver.Limits{}, fmt.Errorf("--%s %v: want a positive duration", d.name, d.v)
		}
	}
	if f.MaxConns <= 0 {
		return httpserver.Limits{}, fmt.Errorf("--max-conns %d: want a positive number", f.MaxConns)
	}
	return httpserver.Limits{Read: f.ReadTimeout, Write: f.WriteTimeout, Idle: f.IdleTimeout, Shutdown: f.ShutdownTimeout, MaxConns: f.MaxConns}, nil
}
