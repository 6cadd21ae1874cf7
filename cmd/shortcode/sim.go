package main

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"time"

	"github.com/shortcode/shortcode/donation/httpserver"

	"github.com/shortcode/shortcode/carrier/sim"
)

// simCommand is `shortcode sim`: the simulator (SPEC §12.3) as its own
// process, the Twilio gateway, the phones and the OneAPI carriers on
// --addr, delivering MOs to --webhook-url.
type simCommand struct {
	Addr             string        `default:"127.0.0.1:8081" placeholder:"HOST:PORT" help:"HTTP listen address of the simulator."`
	WebhookURL       string        `name:"webhook-url" default:"http://127.0.0.1:8080/gateways/twilio/sms" placeholder:"URL" help:"Where MOs are delivered: shortcode's Twilio webhook."`
	SignURL          string        `name:"sign-url" placeholder:"URL" help:"URL MO signatures are computed over, shortcode's public webhook URL (default --webhook-url)."`
	TwilioAccountSID string        `name:"twilio-account-sid" default:"${sim_account_sid}" help:"Twilio account sid."`
	TwilioAuthToken  string        `name:"twilio-auth-token" help:"The shortcode server's Twilio auth token: API password and signing key (required)."`
	CarrierUser      string        `help:"HTTP Basic user the carrier endpoints require (none when user and password are empty)."`
	CarrierPassword  string        `help:"HTTP Basic password the carrier endpoints require."`
	CarrierToken     string        `help:"Bearer token the carrier endpoints also accept."`
	Latency          time.Duration `default:"0s" help:"Delay of every carrier answer."`
	Timeout          time.Duration `default:"${sim_timeout}" help:"How long a carrier request that times out is held before its connection is dropped."`
	TimeoutRate      float64       `default:"0" help:"Fraction of carrier requests that time out (0..1); half the charges among them are applied."`
	ErrorRate        float64       `default:"0" help:"Fraction of carrier requests answered 500, applying nothing (0..1)."`
	DuplicateRate    float64       `default:"0" help:"Fraction of phone MOs delivered twice (0..1)."`
	MessagesLatency  time.Duration `default:"0s" help:"How long the Messages API holds its answer after taking an MT (a slow gateway)."`
	Messages429Rate  float64       `name:"messages-429-rate" default:"0" help:"Fraction of MT sends the Messages API refuses with 429 (Twilio's 20429), not taking them (0..1)."`
	Messages503Rate  float64       `name:"messages-503-rate" default:"0" help:"Fraction of MT sends the Messages API answers 503, not taking them (0..1)."`
	MessagesDropRate float64       `name:"messages-timeout-rate" default:"0" help:"Fraction of MT sends the Messages API holds for --timeout and drops unanswered, not taking them (0..1)."`
	Seed             uint64        `default:"0" help:"Seed of the fault dice, to reproduce a run (0: random)."`
	limitFlags       `embed:""`
	logFlags         `embed:""`
}

// Validate checks the values kong cannot.
func (c *simCommand) Validate() error {
	limits, err := c.limits()
	if err != nil {
		return err
	}
	if c.TwilioAuthToken == "" {
		return errors.New("--twilio-auth-token is required: the shortcode server's token, so that MOs are signed with it")
	}
	if c.WebhookURL == "" {
		return errors.New("--webhook-url is required")
	}
	for _, d := range []struct {
		name     string
		v        time.Duration
		positive bool
	}{{"latency", c.Latency, false}, {"messages-latency", c.MessagesLatency, false}, {"timeout", c.Timeout, true}} {
		if d.v < 0 || (d.positive && d.v == 0) {
			want := "a duration >= 0 like 250ms"
			if d.positive {
				want = "a positive duration like 2s"
			}
			return fmt.Errorf("--%s %v: want %s", d.name, d.v, want)
		}
	}
	if c.Latency >= limits.Write {
		return fmt.Errorf("--latency %v: the answers would outlast --write-timeout %v", c.Latency, limits.Write)
	}
	for _, r := range []struct {
		name string
		v    float64
	}{{"timeout-rate", c.TimeoutRate}, {"error-rate", c.ErrorRate}, {"duplicate-rate", c.DuplicateRate},
		{"messages-429-rate", c.Messages429Rate}, {"messages-503-rate", c.Messages503Rate},
		{"messages-timeout-rate", c.MessagesDropRate}} {
		if math.IsNaN(r.v) || r.v < 0 || r.v > 1 {
			return fmt.Errorf("--%s %v: want a fraction between 0 and 1", r.name, r.v)
		}
	}
	return nil
}

// Run serves the simulator until ctx is done.
func (c *simCommand) Run(ctx context.Context, s *stdio) error {
	limits, _ := c.limits() // checked by Validate
	log := c.logger(s.err)
	cfg := sim.Config{
		AccountSID:      c.TwilioAccountSID,
		AuthToken:       c.TwilioAuthToken,
		WebhookURL:      c.WebhookURL,
		SignURL:         c.SignURL,
		CarrierUser:     c.CarrierUser,
		CarrierPassword: c.CarrierPassword,
		CarrierToken:    c.CarrierToken,
		Log:             log,
		Timeout:         c.Timeout,
		Seed:            c.Seed,
		Faults: sim.Faults{
			Latency:         c.Latency,
			MessagesLatency: c.MessagesLatency,
			TimeoutRate:     c.TimeoutRate,
			ErrorRate:       c.ErrorRate,
			DuplicateRate:   c.DuplicateRate,

			MessagesTooManyRate:     c.Messages429Rate,
			MessagesUnavailableRate: c.Messages503Rate,
			MessagesTimeoutRate:     c.MessagesDropRate,
		},
	}
	ln, err := net.Listen("tcp", c.Addr)
	if err != nil {
		return fmt.Errorf("sim: listen %s: %w", c.Addr, err)
	}
	sm := sim.New(cfg)
	srv, ln := httpserver.NewHTTPServer(sm.Handler(), ln, limits)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	log.Info("simulator listening", "url", "http://"+ln.Addr().String(), "webhook_url", c.WebhookURL,
		"account_sid", c.TwilioAccountSID, "carrier_auth", c.CarrierUser != "" || c.CarrierPassword != "" || c.CarrierToken != "",
		"latency", cfg.Faults.Latency, "timeout", cfg.Timeout, "timeout_rate", cfg.Faults.TimeoutRate,
		"error_rate", cfg.Faults.ErrorRate, "duplicate_rate", cfg.Faults.DuplicateRate)

	select {
	case err := <-served:
		sm.Close()
		return fmt.Errorf("sim: serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("simulator shutting down")
	// Close first: it drops the requests held for a timeout, which
	// Shutdown would otherwise wait for.
	sm.Close()
	sctx, cancel := context.WithTimeout(context.Background(), limits.Shutdown)
	defer cancel()
	forced, err := httpserver.Shutdown(sctx, srv)
	if forced {
		log.Warn("shutdown timeout passed; closed the connections left")
	}
	if err != nil {
		return fmt.Errorf("sim: shutdown: %w", err)
	}
	return nil
}
