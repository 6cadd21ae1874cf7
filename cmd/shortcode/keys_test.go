package main

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/shortcode/shortcode/compliance/certlog"
	"github.com/shortcode/shortcode/storage"
	"github.com/shortcode/shortcode/storage/storagetest"
)

// TestKeysGenerate: keys generate writes a signer key (0600) that serve
// can sign with and its verifier key (printed), and never overwrites a
// key.
func TestKeysGenerate(t *testing.T) {
	dir := t.TempDir()
	r := shortcode(t, dir, nil, "keys", "generate", "--origin", "donate.example.org/shortcode/log")
	r.want(t, 0)
	skey, err := os.ReadFile(filepath.Join(dir, "log.key"))
	if err != nil {
		t.Fatal(err)
	}
	vkey, err := os.ReadFile(filepath.Join(dir, "log.pub"))
	if err != nil {
		t.Fatal(err)
	}
	if r.stdout != string(vkey) || !strings.HasPrefix(r.stdout, "donate.example.org/shortcode/log+") {
		t.Errorf("keys generate printed %q; log.pub holds %q", r.stdout, vkey)
	}
	for _, want := range []string{`SHORTCODE_LOG_KEY="$(cat log.key)" shortcode serve`, `--log-key "$(cat log.key)"`, "--key log.pub"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("keys generate does not say %q:\n%s", want, r.stderr)
		}
	}
	for name, mode := range map[string]os.FileMode{"log.key": 0o600, "log.pub": 0o644} {
		if fi, err := os.Stat(filepath.Join(dir, name)); err != nil || fi.Mode().Perm() != mode {
			t.Errorf("%s: %v, %v; want mode %v", name, fi.Mode(), err, mode)
		}
	}
	// The signer signs checkpoints that the verifier opens.
	signer, err := note.NewSigner(strings.TrimSpace(string(skey)))
	if err != nil {
		t.Fatal(err)
	}
	v, err := note.NewVerifier(strings.TrimSpace(string(vkey)))
	if err != nil {
		t.Fatal(err)
	}
	signed, err := certlog.SignCheckpoint(certlog.Checkpoint{Origin: "donate.example.org/shortcode/log"}, signer)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := certlog.OpenCheckpoint(signed, v); err != nil {
		t.Errorf("a checkpoint signed with log.key does not open with log.pub: %v", err)
	}

	// Never overwritten, even when only one of the two exists.
	r = shortcode(t, dir, nil, "keys", "generate", "--origin", "other.example/log")
	r.want(t, 1)
	if !strings.Contains(r.stderr, "log.key exists: a key is never overwritten") {
		t.Errorf("keys generate over a key: %s", r.stderr)
	}
	if err := os.WriteFile(filepath.Join(dir, "half.pub"), []byte("x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r = shortcode(t, dir, nil, "keys", "generate", "--origin", "other.example/log", "--out", "half")
	r.want(t, 1)
	if !strings.Contains(r.stderr, "half.pub exists") {
		t.Errorf("keys generate over half.pub: %s", r.stderr)
	}
	for _, bad := range []string{"has space", "a+b", ""} {
		r = shortcode(t, dir, nil, "keys", "generate", "--origin", bad, "--out", "bad")
		r.want(t, 2, bad)
	}
	shortcode(t, dir, nil, "keys", "generate").want(t, 2)
	after, err := os.ReadFile(filepath.Join(dir, "log.key"))
	if err != nil || string(after) != string(skey) {
		t.Errorf("log.key changed: %v", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 3 {
		t.Errorf("the folder holds %d files, want log.key, log.pub and half.pub", len(entries))
	}
}

// checkpointOf returns the server's checkpoint, opened with the verifier
// key vkey, once there is one.
func checkpointOf(t *testing.T, server, vkey string) certlog.Checkpoint {
	t.Helper()
	v, err := note.NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		resp, err := http.Get(server + "/log/checkpoint")
		if err != nil {
			t.Fatal(err)
		}
		signed, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != 200 && time.Now().Before(deadline) {
			continue // none signed yet
		}
		c, err := certlog.OpenCheckpoint(signed, v)
		if err != nil {
			t.Fatalf("the checkpoint does not open with %s: %s %v\n%s", vkey, resp.Status, err, signed)
		}
		return c
	}
}

// TestServeLogKey: serve signs the log with the key of keys generate, given
// by SHORTCODE_LOG_KEY as well as by --log-key; on PostgreSQL it refuses to
// start without one; on SQLite without one (the demo) it makes one in
// DB.logkey, logs its verifier key, and keeps it across restarts.
func TestServeLogKey(t *testing.T) {
	dir := t.TempDir()
	shortcode(t, dir, nil, "keys", "generate", "--origin", "env.test/log").want(t, 0)
	skey, err := os.ReadFile(filepath.Join(dir, "log.key"))
	if err != nil {
		t.Fatal(err)
	}
	vkey, err := os.ReadFile(filepath.Join(dir, "log.pub"))
	if err != nil {
		t.Fatal(err)
	}

	t.Run("sqlite demo", func(t *testing.T) {
		db := filepath.Join(t.TempDir(), "demo.db")
		var made []byte
		for range 2 {
			s := serveWith(t, freeAddr(t), nil, "--db", db, "--sim-addr", freeAddr(t))
			skey, err := os.ReadFile(db + ".logkey")
			if err != nil {
				t.Fatal(err)
			}
			if fi, err := os.Stat(db + ".logkey"); err != nil || fi.Mode().Perm() != 0o600 {
				t.Errorf("%s.logkey: %v, %v; want mode 0600", db, fi.Mode(), err)
			}
			if made != nil && string(skey) != string(made) {
				t.Errorf("the demo's key changed on restart")
			}
			made = skey
			vkey, err := certlog.VerifierKey(strings.TrimSpace(string(skey)))
			if err != nil {
				t.Fatal(err)
			}
			checkpointOf(t, s.url, vkey)
			s.stop()
			if !strings.Contains(s.out.String(), "verifier_key="+vkey) {
				t.Errorf("serve does not log the verifier key %s:\n%s", vkey, s.out)
			}
		}
	})

	t.Run("postgres", func(t *testing.T) {
		dsn := storagetest.DSN(t, storage.Postgres)
		r := shortcode(t, dir, nil, "serve", "--db", dsn, "--addr", freeAddr(t), "--sim-addr", freeAddr(t))
		r.want(t, 1)
		if !strings.Contains(r.stderr, "--log-key is required on PostgreSQL: make one with shortcode keys generate") {
			t.Errorf("serve on PostgreSQL without a log key: %s", r.stderr)
		}
		s := serveWith(t, freeAddr(t), []string{"SHORTCODE_LOG_KEY=" + strings.TrimSpace(string(skey))}, "--db", dsn, "--sim-addr", freeAddr(t))
		if c := checkpointOf(t, s.url, strings.TrimSpace(string(vkey))); c.Origin != "env.test/log" {
			t.Errorf("checkpoint of %s", c.Origin)
		}
		s.stop()
	})
}
