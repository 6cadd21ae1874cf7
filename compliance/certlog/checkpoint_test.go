package certlog_test

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"reflect"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/shortcode/shortcode/compliance/certlog"
)

// TestCheckpoint signs the checkpoint of a log of 1000 records. Ed25519
// signatures are deterministic, so the signed note is a golden file.
func TestCheckpoint(t *testing.T) {
	s, v := testKey(t)
	l, _ := newLog(t, 1000)
	msg := l.checkpoint(t, 1000, s)
	golden(t, "checkpoint-1000", msg)

	c, err := certlog.OpenCheckpoint(msg, v)
	if err != nil {
		t.Fatal(err)
	}
	root, _ := tlog.TreeHash(1000, l)
	if c.Origin != "shortcode.example/log" || c.N != 1000 || c.Hash != root || c.Extensions != nil {
		t.Errorf("OpenCheckpoint = %+v, want size 1000 and root %v", c, root)
	}
}

// TestReadCheckpoint: the checkpoint read without a key is the one a key
// opens; text that is not a signed checkpoint is refused.
func TestReadCheckpoint(t *testing.T) {
	s, v := testKey(t)
	l, _ := newLog(t, 10)
	msg := l.checkpoint(t, 10, s)
	want, err := certlog.OpenCheckpoint(msg, v)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := certlog.ReadCheckpoint(msg); err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("ReadCheckpoint = %+v, %v; want %+v", got, err, want)
	}
	for _, bad := range []string{"", "not a note\n", strings.Replace(string(msg), "\n\n", "\n", 1)} {
		if c, err := certlog.ReadCheckpoint([]byte(bad)); err == nil {
			t.Errorf("ReadCheckpoint(%q) = %+v, want an error", bad, c)
		}
	}
}

// TestCheckpointText checks the note text against c2sp.org/tlog-checkpoint.
func TestCheckpointText(t *testing.T) {
	h := tlog.RecordHash([]byte("x"))
	b64 := base64.StdEncoding.EncodeToString(h[:])
	tests := []struct {
		c    certlog.Checkpoint
		text string
	}{
		{certlog.Checkpoint{Origin: "shortcode.example/log"}, "shortcode.example/log\n0\n" + base64.StdEncoding.EncodeToString(make([]byte, 32)) + "\n"},
		{certlog.Checkpoint{Origin: "o", Tree: tlog.Tree{N: 20852163, Hash: h}}, "o\n20852163\n" + b64 + "\n"},
		{certlog.Checkpoint{Origin: "o", Tree: tlog.Tree{N: 1, Hash: h}, Extensions: []string{"a b", "— ünïcode"}}, "o\n1\n" + b64 + "\na b\n— ünïcode\n"},
	}
	for _, tt := range tests {
		text, err := tt.c.Text()
		if err != nil || text != tt.text {
			t.Errorf("Text(%+v) = %q, %v, want %q", tt.c, text, err, tt.text)
		}
		c, err := certlog.ParseCheckpoint(tt.text)
		if err != nil {
			t.Errorf("ParseCheckpoint(%q): %v", tt.text, err)
		}
		if again, _ := c.Text(); again != tt.text {
			t.Errorf("ParseCheckpoint(%q) = %+v", tt.text, c)
		}
	}
	for _, c := range []certlog.Checkpoint{
		{},
		{Origin: "a\nb"},
		{Origin: "o", Tree: tlog.Tree{N: -1}},
		{Origin: "o", Extensions: []string{""}},
		{Origin: "o", Extensions: []string{"a\nb"}},
		{Origin: "\xff"},
	} {
		if text, err := c.Text(); err == nil {
			t.Errorf("Text(%+v) = %q, want an error", c, text)
		}
	}
}

func TestParseCheckpointRefuses(t *testing.T) {
	root := base64.StdEncoding.EncodeToString(make([]byte, 32))
	for _, text := range []string{
		"",
		"\n",
		"o\n1\n" + root, // no final newline
		"o\n1\n",
		"\n1\n" + root + "\n",
		"o\n01\n" + root + "\n",
		"o\n+1\n" + root + "\n",
		"o\n-1\n" + root + "\n",
		"o\n1.0\n" + root + "\n",
		"o\n 1\n" + root + "\n",
		"o\n9223372036854775808\n" + root + "\n",
		"o\n1\n" + root[:len(root)-1] + "\n",
		"o\n1\n" + base64.StdEncoding.EncodeToString(make([]byte, 31)) + "\n",
		"o\n1\n" + base64.StdEncoding.EncodeToString(make([]byte, 33)) + "\n",
		"o\n1\n" + base64.RawStdEncoding.EncodeToString(make([]byte, 32)) + "\n",
		"o\n1\n" + base64.URLEncoding.EncodeToString(bytes.Repeat([]byte{0xff}, 32)) + "\n",
		"o\n1\n" + root + "\r\n",
		"o\n1\n" + "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB=" + "\n", // non-zero padding bits
		"o\n1\n" + root + "\n\n",
		"o\n1\n" + root + "\next\n\n",
		"o\r\n1\n" + root + "\n",
	} {
		if c, err := certlog.ParseCheckpoint(text); err == nil {
			t.Errorf("ParseCheckpoint(%q) = %+v, want an error", text, c)
		}
	}
}

func TestOpenCheckpointRefuses(t *testing.T) {
	s, v := testKey(t)
	l, _ := newLog(t, 10)
	good := l.checkpoint(t, 10, s)

	// Another key of the same name (a forger's): its signature is not
	// the log's, so the note has none that verifies.
	forgerKey, _, err := note.GenerateKey(rand.Reader, s.Name())
	if err != nil {
		t.Fatal(err)
	}
	forger, _ := note.NewSigner(forgerKey)
	otherKey, otherVKey, _ := note.GenerateKey(rand.Reader, "other.example/log")
	other, _ := note.NewSigner(otherKey)
	otherV, _ := note.NewVerifier(otherVKey)

	text := func(c certlog.Checkpoint) string {
		t.Helper()
		s, err := c.Text()
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	root, _ := tlog.TreeHash(10, l)
	sign := func(text string, signers ...note.Signer) []byte {
		t.Helper()
		msg, err := note.Sign(&note.Note{Text: text}, signers...)
		if err != nil {
			t.Fatal(err)
		}
		return msg
	}
	// flip changes the last byte of the signature, keeping its key id.
	flip := func(msg []byte) []byte {
		i := bytes.LastIndexByte(msg, ' ') + 1
		sig, err := base64.StdEncoding.DecodeString(strings.TrimSuffix(string(msg[i:]), "\n"))
		if err != nil {
			t.Fatal(err)
		}
		sig[len(sig)-1] ^= 1
		return append(bytes.Clone(msg[:i]), base64.StdEncoding.EncodeToString(sig)+"\n"...)
	}
	var invalid *note.InvalidSignatureError
	var unverified *note.UnverifiedNoteError
	tests := []struct {
		name string
		msg  []byte
		v    note.Verifier
		as   any // an error type the error must be, if any
	}{
		{"signature changed", flip(good), v, &invalid},
		{"size changed", bytes.Replace(good, []byte("\n10\n"), []byte("\n11\n"), 1), v, &invalid},
		{"origin changed", bytes.Replace(good, []byte("shortcode.example/log\n"), []byte("shortcode.example/log2\n"), 1), v, &invalid},
		{"forged", sign(text(certlog.Checkpoint{Origin: s.Name(), Tree: tlog.Tree{N: 10, Hash: root}}), forger), v, &unverified},
		{"signed by another log", sign(text(certlog.Checkpoint{Origin: s.Name(), Tree: tlog.Tree{N: 10, Hash: root}}), other), v, &unverified},
		{"other log's key", good, otherV, &unverified},
		{"wrong origin", sign(text(certlog.Checkpoint{Origin: "other.example/log", Tree: tlog.Tree{N: 10, Hash: root}}), s), v, nil},
		{"not a checkpoint", sign("hello\n", s), v, nil},
		{"unsigned", []byte(text(certlog.Checkpoint{Origin: s.Name(), Tree: tlog.Tree{N: 10, Hash: root}})), v, nil},
		{"empty", nil, v, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := certlog.OpenCheckpoint(tt.msg, tt.v)
			if err == nil {
				t.Fatalf("OpenCheckpoint = %+v, want an error", c)
			}
			if tt.as != nil && !errors.As(err, tt.as) {
				t.Errorf("OpenCheckpoint: %v, want a %T", err, tt.as)
			}
		})
	}

	// A witness's cosignature, unknown to the verifier, is ignored.
	witnessKey, _, _ := note.GenerateKey(rand.Reader, "witness.example")
	witness, _ := note.NewSigner(witnessKey)
	cosigned := sign(text(certlog.Checkpoint{Origin: s.Name(), Tree: tlog.Tree{N: 10, Hash: root}}), s, witness)
	if _, err := certlog.OpenCheckpoint(cosigned, v); err != nil {
		t.Errorf("cosigned: %v", err)
	}
}

func TestSignCheckpointRefuses(t *testing.T) {
	s, _ := testKey(t)
	for _, c := range []certlog.Checkpoint{
		{Origin: "other.example/log"},
		{Origin: s.Name(), Tree: tlog.Tree{N: -1}},
		{Origin: s.Name(), Extensions: []string{""}},
	} {
		if msg, err := certlog.SignCheckpoint(c, s); err == nil {
			t.Errorf("SignCheckpoint(%+v) = %q, want an error", c, msg)
		}
	}
	if _, err := certlog.SignCheckpoint(certlog.Checkpoint{Origin: s.Name()}, s); err != nil {
		t.Errorf("empty tree: %v", err)
	}
}
