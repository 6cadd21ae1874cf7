package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// lockedBuffer is a bytes.Buffer safe for a writer and a reader at once.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestRunSim(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	logs := &lockedBuffer{}
	done := make(chan error, 1)
	go func() {
		done <- runSim(ctx, []string{
			"--addr", "127.0.0.1:0", "--twilio-auth-token", "tok",
			"--carrier-user", "shortcode", "--carrier-password", "s3cret",
			"--latency", "5ms", "--timeout", "50ms", "--error-rate", "0.25", "--duplicate-rate", "0.5", "--seed", "3",
			"--messages-429-rate", "0.1", "--messages-503-rate", "0.2", "--messages-timeout-rate", "0.3",
		}, logs)
	}()

	listening := regexp.MustCompile(`msg="simulator listening" url=(http://127\.0\.0\.1:[0-9]+)`)
	var url string
	for deadline := time.Now().Add(5 * time.Second); url == ""; {
		select {
		case err := <-done:
			t.Fatalf("runSim returned early: %v\n%s", err, logs)
		default:
		}
		if m := listening.FindStringSubmatch(logs.String()); m != nil {
			url = m[1]
		} else if time.Now().After(deadline) {
			t.Fatalf("no listening line in the log:\n%s", logs)
		} else {
			time.Sleep(10 * time.Millisecond)
		}
	}

	call := func(method, path, body string, auth func(*http.Request)) (int, string) {
		t.Helper()
		req, err := http.NewRequest(method, url+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if auth != nil {
			auth(req)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, string(b)
	}
	carrierAuth := func(r *http.Request) { r.SetBasicAuth("shortcode", "s3cret") }

	// The flags set the knobs.
	if code, body := call("GET", "/sim/faults", "", nil); code != 200 ||
		body != `{"latency":"5ms","timeout_rate":0,"error_rate":0.25,"duplicate_rate":0.5,`+
			`"messages_too_many_rate":0.1,"messages_unavailable_rate":0.2,"messages_timeout_rate":0.3}`+"\n" {
		t.Errorf("GET /sim/faults = %d %s", code, body)
	}
	if code, _ := call("GET", "/lookup/v1/tel:%2B12125550100", "", nil); code != 401 {
		t.Errorf("lookup without credentials: %d, want 401", code)
	}
	if code, body := call("POST", "/sim/faults", `{}`, nil); code != 200 {
		t.Fatalf("POST /sim/faults: %d %s", code, body)
	}
	if code, body := call("GET", "/lookup/v1/tel:%2B12125550100", "", carrierAuth); code != 200 ||
		body != `{"country":"US","carrier":"SimMobile","lineType":"postpaid"}`+"\n" {
		t.Errorf("lookup = %d %s", code, body)
	}
	twilioAuth := func(r *http.Request) { r.SetBasicAuth("AC00000000000000000000000000000000", "tok") }
	if code, body := call("GET", "/2010-04-01/Accounts/AC00000000000000000000000000000000/Messages.json", "", twilioAuth); code != 200 {
		t.Errorf("Messages API: %d %s", code, body)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("runSim: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("runSim still running 5s after its context ended")
	}
	if !strings.Contains(logs.String(), "simulator shutting down") {
		t.Errorf("log:\n%s", logs)
	}
}

func TestRunSimFlags(t *testing.T) {
	with := func(extra ...string) []string {
		return append([]string{"--addr", "127.0.0.1:0", "--twilio-auth-token", "tok"}, extra...)
	}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"NoToken", []string{"--addr", "127.0.0.1:0"}, "--twilio-auth-token is required"},
		{"NoWebhook", with("--webhook-url", ""), "--webhook-url is required"},
		{"BadLatency", with("--latency", "soon"), "--latency"},
		{"NegativeLatency", with("--latency", "-1s"), "--latency"},
		{"ZeroTimeout", with("--timeout", "0s"), "--timeout"},
		{"RateAboveOne", with("--error-rate", "1.5"), "--error-rate"},
		{"NegativeRate", with("--timeout-rate", "-0.1"), "--timeout-rate"},
		{"NaNRate", with("--duplicate-rate", "NaN"), "--duplicate-rate"},
		{"Messages429RateAboveOne", with("--messages-429-rate", "2"), "--messages-429-rate"},
		{"NegativeMessages503Rate", with("--messages-503-rate", "-1"), "--messages-503-rate"},
		{"NaNMessagesTimeoutRate", with("--messages-timeout-rate", "NaN"), "--messages-timeout-rate"},
		{"BadSeed", with("--seed", "-1"), "--seed"},
		{"ZeroReadTimeout", with("--read-timeout", "0s"), "--read-timeout"},
		{"BadIdleTimeout", with("--idle-timeout", "a while"), "--idle-timeout"},
		{"NoConns", with("--max-conns", "0"), "--max-conns"},
		{"LatencyOutlastsWrites", with("--latency", "3s", "--write-timeout", "2s"), "--write-timeout"},
		{"ExtraArgument", with("extra"), "unexpected argument extra"},
		{"UnknownFlag", with("--nope"), "unknown flag --nope"},
		{"DayLatency", with("--latency", "1d"), "--write-timeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			cancel() // never serve for long
			err := runSim(ctx, tt.args, io.Discard)
			var u *usageError
			if !errors.As(err, &u) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("sim %q: %v, want a usage error with %q", tt.args, err, tt.want)
			}
		})
	}
}

// TestRunSimListenFails: an address that cannot be listened on is a
// failure (exit 1), not a usage error.
func TestRunSimListenFails(t *testing.T) {
	err := runSim(context.Background(), []string{"--addr", "256.0.0.1:http", "--twilio-auth-token", "tok"}, io.Discard)
	var u *usageError
	if err == nil || errors.As(err, &u) || !strings.Contains(err.Error(), "listen") {
		t.Errorf("sim on a bad address: %v, want a failure to listen", err)
	}
}
