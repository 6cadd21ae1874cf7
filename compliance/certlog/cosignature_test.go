package certlog_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"strings"
	"testing"

	"filippo.io/torchwood"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/shortcode/shortcode/compliance/certlog"
)

// testCosigner is a witness's key, made by torchwood, an implementation of
// c2sp.org/tlog-cosignature that is not shortcode's.
func testCosigner(t *testing.T, name string) *torchwood.CosignatureSigner {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := torchwood.NewCosignatureSigner(name, priv)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestCosignature: a witness's cosignature of a checkpoint, made by
// torchwood, verifies with the verifier NewCosignatureVerifier makes from
// the witness's verifier key; a verifier that knows only the log's key
// still opens the cosigned checkpoint.
func TestCosignature(t *testing.T) {
	logSigner, logVerifier := testKey(t)
	w := testCosigner(t, "witness.example/w1")
	v, err := certlog.NewCosignatureVerifier(w.Verifier().String())
	if err != nil {
		t.Fatal(err)
	}
	if v.Name() != "witness.example/w1" || v.KeyHash() != w.KeyHash() {
		t.Errorf("verifier %q %08x, want %q %08x", v.Name(), v.KeyHash(), w.Name(), w.KeyHash())
	}
	c := certlog.Checkpoint{Origin: logSigner.Name(), Tree: tlog.Tree{N: 7, Hash: tlog.RecordHash([]byte("x"))}}
	for _, ext := range [][]string{nil, {"an extension line"}} {
		c.Extensions = ext
		text, err := c.Text()
		if err != nil {
			t.Fatal(err)
		}
		msg, err := note.Sign(&note.Note{Text: text}, logSigner, w)
		if err != nil {
			t.Fatal(err)
		}
		n, err := note.Open(msg, note.VerifierList(v))
		if err != nil {
			t.Fatalf("extensions %q: cosigned checkpoint does not open with the witness's key: %v\n%s", ext, err, msg)
		}
		if len(n.Sigs) != 1 || n.Sigs[0].Name != w.Name() || len(n.UnverifiedSigs) != 1 {
			t.Errorf("signatures %+v, unverified %+v", n.Sigs, n.UnverifiedSigs)
		}
		if got, err := certlog.OpenCheckpoint(msg, logVerifier); err != nil || got.N != 7 {
			t.Errorf("OpenCheckpoint with the log's key alone: %+v, %v", got, err)
		}

		// The cosignature signs the checkpoint: another text fails.
		other := strings.Replace(string(msg), "\n7\n", "\n8\n", 1)
		if _, err := note.Open([]byte(other), note.VerifierList(v)); err == nil {
			t.Error("a cosignature verified over another checkpoint")
		}
	}
}

// TestCosignatureTime: the cosignature signs its time; one whose time
// was changed fails.
func TestCosignatureTime(t *testing.T) {
	logSigner, _ := testKey(t)
	w := testCosigner(t, "witness.example/w1")
	v, err := certlog.NewCosignatureVerifier(w.Verifier().String())
	if err != nil {
		t.Fatal(err)
	}
	text, _ := certlog.Checkpoint{Origin: logSigner.Name(), Tree: tlog.Tree{N: 1, Hash: tlog.RecordHash([]byte("x"))}}.Text()
	msg, err := note.Sign(&note.Note{Text: text}, w)
	if err != nil {
		t.Fatal(err)
	}
	n, err := note.Open(msg, note.VerifierList(v))
	if err != nil {
		t.Fatal(err)
	}
	sig, _ := base64.StdEncoding.DecodeString(n.Sigs[0].Base64)
	sig[4+7] ^= 1 // the time's last byte
	forged := certlog.AppendSignatures([]byte(text+"\n"), note.Signature{Name: w.Name(), Base64: base64.StdEncoding.EncodeToString(sig)})
	if _, err := note.Open(forged, note.VerifierList(v)); err == nil {
		t.Error("a cosignature verified with its time changed")
	}
}

// TestNewCosignatureVerifierRefuses keys that are not Ed25519 cosigner
// keys, or whose hash does not match.
func TestNewCosignatureVerifierRefuses(t *testing.T) {
	_, noteKey, err := note.GenerateKey(rand.Reader, "witness.example/w1")
	if err != nil {
		t.Fatal(err)
	}
	w := testCosigner(t, "witness.example/w1")
	good := w.Verifier().String()
	name, rest, _ := strings.Cut(good, "+")
	hash, key, _ := strings.Cut(rest, "+")
	raw, _ := base64.StdEncoding.DecodeString(key)
	raw[0] = 0x01
	for _, vkey := range []string{
		"",
		noteKey, // a note Ed25519 key (type 0x01)
		name + "+" + hash + "+" + base64.StdEncoding.EncodeToString(raw), // same bytes, type 0x01
		"other.example/w1+" + rest,                                       // the hash is the name's too
		name + "+00000000+" + key,
		name + "+" + hash + "+" + key[:len(key)-4],
		"with space+" + rest,
		name + "+" + hash,
	} {
		if _, err := certlog.NewCosignatureVerifier(vkey); err == nil {
			t.Errorf("NewCosignatureVerifier(%q) accepted", vkey)
		}
	}
}

// TestAppendSignatures: the note keeps its own signatures and gets the
// others after them, each on its line.
func TestAppendSignatures(t *testing.T) {
	logSigner, logVerifier := testKey(t)
	w1, w2 := testCosigner(t, "witness.example/w1"), testCosigner(t, "witness.example/w2")
	text, _ := certlog.Checkpoint{Origin: logSigner.Name(), Tree: tlog.Tree{N: 3, Hash: tlog.RecordHash([]byte("y"))}}.Text()
	signed, err := certlog.SignCheckpoint(certlog.Checkpoint{Origin: logSigner.Name(), Tree: tlog.Tree{N: 3, Hash: tlog.RecordHash([]byte("y"))}}, logSigner)
	if err != nil {
		t.Fatal(err)
	}
	var sigs []note.Signature
	for _, w := range []*torchwood.CosignatureSigner{w1, w2} {
		msg, err := note.Sign(&note.Note{Text: text}, w)
		if err != nil {
			t.Fatal(err)
		}
		n, err := note.Open(msg, note.VerifierList(w.Verifier()))
		if err != nil {
			t.Fatal(err)
		}
		sigs = append(sigs, n.Sigs...)
	}
	cosigned := certlog.AppendSignatures(signed, sigs...)
	if !strings.HasPrefix(string(cosigned), string(signed)) || strings.Count(string(cosigned), "\n— ") != 3 {
		t.Fatalf("cosigned note:\n%s", cosigned)
	}
	n, err := note.Open(cosigned, note.VerifierList(logVerifier, w1.Verifier(), w2.Verifier()))
	if err != nil || len(n.Sigs) != 3 {
		t.Fatalf("cosigned note opens with %+v, %v", n, err)
	}
	if _, err := certlog.OpenCheckpoint(cosigned, logVerifier); err != nil {
		t.Errorf("OpenCheckpoint with the log's key alone: %v", err)
	}
}
