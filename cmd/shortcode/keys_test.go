package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"

	"github.com/shortcode/shortcode/compliance/certlog"
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
