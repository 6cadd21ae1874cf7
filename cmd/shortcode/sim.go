package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"strconv"
	"time"

	"github.com/shortcode/shortcode/donation/httpserver"

	"github.com/shortcode/shortcode/carrier/sim"
)

// runSim runs the simulator (SPEC §12.3) as its own process: the Twilio
// gateway, the phones and the OneAPI carriers on --addr, delivering MOs to
// --webhook-url, until ctx is done.
func runSim(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("sim", stderr)
	var (
		addr, webhookURL, signURL, accountSID, authToken string
		carrierUser, carrierPassword, carrierToken       string
		latency, timeout, timeoutRate, errorRate         string
		duplicateRate, seed, messagesLatency             string
	)
	stringFlag(fs, &addr, "addr", "127.0.0.1:8081", "HTTP listen address of the simulator")
	stringFlag(fs, &webhookURL, "webhook-url", "http://127.0.0.1:8080/gateways/twilio/sms", "where MOs are delivered: shortcode's Twilio webhook")
	stringFlag(fs, &signURL, "sign-url", "", "URL MO signatures are computed over, shortcode's public webhook URL (default --webhook-url)")
	stringFlag(fs, &accountSID, "twilio-account-sid", sim.DefaultAccountSID, "Twilio account sid")
	stringFlag(fs, &authToken, "twilio-auth-token", "", "the shortcode server's Twilio auth token: API password and signing key (required)")
	stringFlag(fs, &carrierUser, "carrier-user", "", "HTTP Basic user the carrier endpoints require (none when user and password are empty)")
	stringFlag(fs, &carrierPassword, "carrier-password", "", "HTTP Basic password the carrier endpoints require")
	stringFlag(fs, &carrierToken, "carrier-token", "", "bearer token the carrier endpoints also accept")
	stringFlag(fs, &latency, "latency", "0s", "delay of every carrier answer")
	stringFlag(fs, &timeout, "timeout", sim.DefaultTimeout.String(), "how long a carrier request that times out is held before its connection is dropped")
	stringFlag(fs, &timeoutRate, "timeout-rate", "0", "fraction of carrier requests that time out (0..1); half the charges among them are applied")
	stringFlag(fs, &errorRate, "error-rate", "0", "fraction of carrier requests answered 500, applying nothing (0..1)")
	stringFlag(fs, &duplicateRate, "duplicate-rate", "0", "fraction of phone MOs delivered twice (0..1)")
	stringFlag(fs, &messagesLatency, "messages-latency", "0s", "how long the Messages API holds its answer after taking an MT (a slow gateway)")
	stringFlag(fs, &seed, "seed", "0", "seed of the fault dice, to reproduce a run (0: random)")
	def := httpserver.DefaultLimits
	def.Write = simWriteTimeout
	limitFlags := defineLimitFlags(fs, def)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("sim: unexpected arguments %q", fs.Args())
	}
	limits, err := limitFlags.limits("sim")
	if err != nil {
		return err
	}
	if authToken == "" {
		return errors.New("sim: --twilio-auth-token is required: the shortcode server's token, so that MOs are signed with it")
	}
	if webhookURL == "" {
		return errors.New("sim: --webhook-url is required")
	}

	cfg := sim.Config{
		AccountSID:      accountSID,
		AuthToken:       authToken,
		WebhookURL:      webhookURL,
		SignURL:         signURL,
		CarrierUser:     carrierUser,
		CarrierPassword: carrierPassword,
		CarrierToken:    carrierToken,
	}
	if cfg.Faults.Latency, err = parseSimDuration("latency", latency, false); err != nil {
		return err
	}
	if cfg.Faults.MessagesLatency, err = parseSimDuration("messages-latency", messagesLatency, false); err != nil {
		return err
	}
	if cfg.Timeout, err = parseSimDuration("timeout", timeout, true); err != nil {
		return err
	}
	if cfg.Faults.Latency >= limits.Write {
		return fmt.Errorf("sim: --latency %v: the answers would outlast --write-timeout %v", cfg.Faults.Latency, limits.Write)
	}
	if cfg.Faults.TimeoutRate, err = parseRate("timeout-rate", timeoutRate); err != nil {
		return err
	}
	if cfg.Faults.ErrorRate, err = parseRate("error-rate", errorRate); err != nil {
		return err
	}
	if cfg.Faults.DuplicateRate, err = parseRate("duplicate-rate", duplicateRate); err != nil {
		return err
	}
	if cfg.Seed, err = strconv.ParseUint(seed, 10, 64); err != nil {
		return fmt.Errorf("sim: --seed %q: want an unsigned integer", seed)
	}

	log := slog.New(slog.NewTextHandler(stderr, nil))
	cfg.Log = log
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("sim: listen %s: %w", addr, err)
	}
	s := sim.New(cfg)
	srv, ln := httpserver.NewHTTPServer(s.Handler(), ln, limits)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	log.Info("simulator listening", "url", "http://"+ln.Addr().String(), "webhook_url", webhookURL,
		"account_sid", accountSID, "carrier_auth", carrierUser != "" || carrierPassword != "" || carrierToken != "",
		"latency", cfg.Faults.Latency, "timeout", cfg.Timeout, "timeout_rate", cfg.Faults.TimeoutRate,
		"error_rate", cfg.Faults.ErrorRate, "duplicate_rate", cfg.Faults.DuplicateRate)

	select {
	case err := <-served:
		s.Close()
		return fmt.Errorf("sim: serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("simulator shutting down")
	// Close first: it drops the requests held for a timeout, which
	// Shutdown would otherwise wait for.
	s.Close()
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

// parseSimDuration reads a duration flag; positive says whether it must be
// more than zero (otherwise zero is allowed).
func parseSimDuration(name, v string, positive bool) (time.Duration, error) {
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 || (positive && d == 0) {
		want := "a duration >= 0 like 250ms"
		if positive {
			want = "a positive duration like 2s"
		}
		return 0, fmt.Errorf("sim: --%s %q: want %s", name, v, want)
	}
	return d, nil
}

// parseRate reads a fraction flag, 0..1.
func parseRate(name, v string) (float64, error) {
	r, err := strconv.ParseFloat(v, 64)
	if err != nil || math.IsNaN(r) || r < 0 || r > 1 {
		return 0, fmt.Errorf("sim: --%s %q: want a fraction between 0 and 1", name, v)
	}
	return r, nil
}
