package storage_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"strings"
	"testing"

	"filippo.io/torchwood"
	"golang.org/x/mod/sumdb/note"

	"github.com/shortcode/shortcode/compliance/certlog"
	"github.com/shortcode/shortcode/donation"
	"github.com/shortcode/shortcode/storage"
	"github.com/shortcode/shortcode/storage/storagetest"
)

// cosign returns a witness's cosignature of the signed checkpoint, made by
// torchwood's cosigner, and the witness's verifier.
func cosign(t *testing.T, name string, signed []byte) (note.Signature, note.Verifier) {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	w, err := torchwood.NewCosignatureSigner(name, priv)
	if err != nil {
		t.Fatal(err)
	}
	n, err := note.Open(signed, note.VerifierList(storagetest.LogVerifier()))
	if err != nil {
		t.Fatal(err)
	}
	msg, err := note.Sign(&note.Note{Text: n.Text}, w)
	if err != nil {
		t.Fatal(err)
	}
	n, err = note.Open(msg, note.VerifierList(w.Verifier()))
	if err != nil {
		t.Fatal(err)
	}
	return n.Sigs[0], w.Verifier()
}

// TestCosignatures: witnesses' cosignatures are kept beside the checkpoint
// they sign, one per key (the first), and Checkpoint serves the latest
// checkpoint with its own: a note that opens with the log's key alone and
// with every witness's. The rows are append-only, as the log's are.
func TestCosignatures(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		apply(t, db, donation.Result{Donations: []donation.Donation{donationOf("d1", phoneA, 500, donation.Open)}, Certification: certOf(phoneA, "d1", 500)}, t0, "")
		storagetest.Sequence(t, db)
		first, err := db.Checkpoint(ctx)
		if err != nil {
			t.Fatal(err)
		}
		old, _ := cosign(t, "witness.example/w1", first)
		if err := db.AddCosignatures(ctx, 1, []note.Signature{old}, t0); err != nil {
			t.Fatal(err)
		}
		if got, _ := db.Checkpoint(ctx); !strings.HasPrefix(string(got), string(first)) || strings.Count(string(got), "\n— ") != 2 {
			t.Errorf("checkpoint of size 1 with its cosignature:\n%s", got)
		}

		apply(t, db, donation.Result{Donations: []donation.Donation{donationOf("d2", phoneB, 500, donation.Open)}, Certification: certOf(phoneB, "d2", 500)}, t0, "")
		storagetest.Sequence(t, db)
		signed, err := db.Checkpoint(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Count(string(signed), "\n— ") != 1 {
			t.Fatalf("the new checkpoint has the old one's cosignature:\n%s", signed)
		}
		s1, v1 := cosign(t, "witness.example/w1", signed)
		s2, v2 := cosign(t, "witness.example/w2", signed)
		if err := db.AddCosignatures(ctx, 2, []note.Signature{s1, s2}, t0); err != nil {
			t.Fatal(err)
		}
		again, _ := cosign(t, "witness.example/w1", signed) // another key of the same name
		later := s1
		later.Base64 = s2.Base64 // same key: ignored, whatever it holds
		if err := db.AddCosignatures(ctx, 2, []note.Signature{later, again}, t0.Add(1)); err != nil {
			t.Fatal(err)
		}

		got, err := db.Checkpoint(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(string(got), string(signed)) {
			t.Fatalf("served checkpoint does not start with the signed one:\n%s", got)
		}
		if c, err := certlog.OpenCheckpoint(got, storagetest.LogVerifier()); err != nil || c.N != 2 {
			t.Fatalf("with the log's key alone: %+v, %v", c, err)
		}
		n, err := note.Open(got, note.VerifierList(storagetest.LogVerifier(), v1, v2))
		if err != nil {
			t.Fatalf("with every key: %v\n%s", err, got)
		}
		if len(n.Sigs) != 3 || len(n.UnverifiedSigs) != 1 || n.UnverifiedSigs[0] != again {
			t.Errorf("signatures %+v, unverified %+v; want the log's and two witnesses', and the other key's unverified", n.Sigs, n.UnverifiedSigs)
		}

		for _, q := range []string{
			`UPDATE cert_cosignatures SET signature = ''`,
			`DELETE FROM cert_cosignatures`,
		} {
			if err := db.ExecForTest(ctx, q); err == nil || !strings.Contains(err.Error(), "append-only") {
				t.Errorf("%s: %v, want refused as append-only", q, err)
			}
		}
		if db.Driver() == storage.Postgres {
			if err := db.ExecForTest(ctx, `TRUNCATE cert_cosignatures`); err == nil || !strings.Contains(err.Error(), "append-only") {
				t.Errorf("TRUNCATE cert_cosignatures: %v", err)
			}
		}
		if err := db.AddCosignatures(ctx, 99, []note.Signature{s1}, t0); err == nil && db.Driver() == storage.Postgres {
			t.Error("a cosignature of a checkpoint that does not exist was stored")
		}
	})
}
