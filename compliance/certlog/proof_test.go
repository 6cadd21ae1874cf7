package certlog_test

import (
	"bytes"
	"crypto/rand"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/shortcode/shortcode/compliance/certlog"
)

// proofFor returns the proof of record i in the tree of the first n
// records of l, carrying the record.
func proofFor(t testing.TB, l *memLog, n, i int64, s note.Signer) certlog.Proof {
	t.Helper()
	path, err := tlog.ProveRecord(n, i, l)
	if err != nil {
		t.Fatal(err)
	}
	return certlog.Proof{Extra: l.entries[i], Index: i, Path: path, Checkpoint: l.checkpoint(t, n, s)}
}

func marshal(t testing.TB, p certlog.Proof) []byte {
	t.Helper()
	b, err := p.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestProof round-trips and verifies the proof of record 7 in the sample
// log of 1000 records; the file is a golden file.
func TestProof(t *testing.T) {
	s, v := testKey(t)
	l, _ := newLog(t, 1000)
	p := proofFor(t, l, 1000, 7, s)
	file := marshal(t, p)
	golden(t, "record-7.tlog-proof", file)

	back, err := certlog.ParseProof(file)
	if err != nil {
		t.Fatal(err)
	}
	if again := marshal(t, back); !bytes.Equal(again, file) {
		t.Errorf("Marshal(ParseProof) =\n%s\nwant\n%s", again, file)
	}
	for _, record := range [][]byte{nil, l.entries[7]} {
		r, c, err := certlog.VerifyProof(file, record, v)
		if err != nil {
			t.Fatalf("VerifyProof(record %q): %v", record, err)
		}
		want, _ := sample(7)
		if !equal(r, want) || c.N != 1000 {
			t.Errorf("VerifyProof = %+v, %+v", r, c)
		}
	}

	// Without extra data, the record is given.
	p.Extra = nil
	bare := marshal(t, p)
	if bytes.Contains(bare, []byte("extra")) {
		t.Errorf("no extra line expected:\n%s", bare)
	}
	if _, _, err := certlog.VerifyProof(bare, l.entries[7], v); err != nil {
		t.Error(err)
	}
	if _, _, err := certlog.VerifyProof(bare, nil, v); err == nil {
		t.Error("VerifyProof without a record succeeded")
	}
}

// TestProofEdges proves the first and last records of trees of a few sizes,
// including a tree of one record, whose proof has no hashes.
func TestProofEdges(t *testing.T) {
	s, v := testKey(t)
	l, _ := newLog(t, 257)
	for _, n := range []int64{1, 2, 3, 256, 257} {
		for _, i := range []int64{0, n / 2, n - 1} {
			file := marshal(t, proofFor(t, l, n, i, s))
			if _, _, err := certlog.VerifyProof(file, nil, v); err != nil {
				t.Errorf("record %d of %d: %v\n%s", i, n, err, file)
			}
		}
	}
}

func TestVerifyProofRefuses(t *testing.T) {
	s, v := testKey(t)
	l, _ := newLog(t, 20)
	good := proofFor(t, l, 20, 7, s)
	_, otherVKey, _ := note.GenerateKey(rand.Reader, s.Name())
	otherV, _ := note.NewVerifier(otherVKey)

	with := func(change func(p *certlog.Proof)) []byte {
		p := good
		p.Path = append(tlog.RecordProof(nil), good.Path...)
		change(&p)
		return marshal(t, p)
	}
	tests := []struct {
		name   string
		file   []byte
		record []byte
		v      note.Verifier
	}{
		{"other record given", marshal(t, good), l.entries[8], v},
		{"other record carried", with(func(p *certlog.Proof) { p.Extra = l.entries[8] }), nil, v},
		{"other record, its index", with(func(p *certlog.Proof) { p.Extra, p.Index = l.entries[8], 8 }), nil, v},
		{"other index", with(func(p *certlog.Proof) { p.Index = 6 }), nil, v},
		{"hash changed", with(func(p *certlog.Proof) { p.Path[2][0] ^= 1 }), nil, v},
		{"hash removed", with(func(p *certlog.Proof) { p.Path = p.Path[1:] }), nil, v},
		{"hash added", with(func(p *certlog.Proof) { p.Path = append(p.Path, p.Path[0]) }), nil, v},
		{"older checkpoint", with(func(p *certlog.Proof) { p.Checkpoint = l.checkpoint(t, 19, s) }), nil, v},
		{"index beyond", with(func(p *certlog.Proof) { p.Checkpoint = l.checkpoint(t, 7, s) }), nil, v},
		{"checkpoint changed", with(func(p *certlog.Proof) {
			p.Checkpoint = bytes.Replace(p.Checkpoint, []byte("\n20\n"), []byte("\n21\n"), 1)
		}), nil, v},
		{"other key", marshal(t, good), nil, otherV},
		{"record not canonical", with(func(p *certlog.Proof) { p.Extra = append(bytes.Clone(p.Extra), '\n') }), nil, v},
		{"not a proof", []byte("hello\n"), l.entries[7], v},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if r, _, err := certlog.VerifyProof(tt.file, tt.record, tt.v); err == nil {
				t.Fatalf("VerifyProof = %+v, want an error", r)
			}
		})
	}
}

func TestParseProofRefuses(t *testing.T) {
	s, _ := testKey(t)
	l, _ := newLog(t, 20)
	good := string(marshal(t, proofFor(t, l, 20, 7, s)))
	p, _ := certlog.ParseProof([]byte(good))
	cp := string(p.Checkpoint)
	h := p.Path[0].String()
	for _, file := range []string{
		"",
		"c2sp.org/tlog-proof@v1\n",
		"c2sp.org/tlog-proof@v2\nindex 7\n\n" + cp,
		"c2sp.org/tlog-proof@v1\r\nindex 7\n\n" + cp,
		"c2sp.org/tlog-proof@v1\nindex 7\n" + h + "\n", // no checkpoint
		"c2sp.org/tlog-proof@v1\nindex 7\n" + h + "\n\n",
		"c2sp.org/tlog-proof@v1\nindex 7\n" + h + "\n" + cp, // no empty line
		"c2sp.org/tlog-proof@v1\nindex 7\n\n" + strings.TrimSuffix(cp, "\n"),
		"c2sp.org/tlog-proof@v1\nindex 07\n\n" + cp,
		"c2sp.org/tlog-proof@v1\nindex -7\n\n" + cp,
		"c2sp.org/tlog-proof@v1\nindex +7\n\n" + cp,
		"c2sp.org/tlog-proof@v1\nindex  7\n\n" + cp,
		"c2sp.org/tlog-proof@v1\nindex\n\n" + cp,
		"c2sp.org/tlog-proof@v1\nextra \nindex 7\n\n" + cp,
		"c2sp.org/tlog-proof@v1\nextra !!\nindex 7\n\n" + cp,
		"c2sp.org/tlog-proof@v1\nextra YQ\nindex 7\n\n" + cp,   // unpadded
		"c2sp.org/tlog-proof@v1\nextra YR==\nindex 7\n\n" + cp, // non-zero padding bits
		"c2sp.org/tlog-proof@v1\nextra YQ==\nextra YQ==\nindex 7\n\n" + cp,
		"c2sp.org/tlog-proof@v1\nindex 7\nextra YQ==\n\n" + cp,
		"c2sp.org/tlog-proof@v1\nindex 7\n" + h[:len(h)-1] + "\n\n" + cp,
		"c2sp.org/tlog-proof@v1\nindex 7\n" + h + " \n\n" + cp,
		"c2sp.org/tlog-proof@v1\nindex 7\n" + h + h + "\n\n" + cp,
		"c2sp.org/tlog-proof@v1\nindex 7\n" + string(bytes.Repeat([]byte(h+"\n"), 64)) + "\n" + cp,
	} {
		if p, err := certlog.ParseProof([]byte(file)); err == nil {
			t.Errorf("ParseProof(%q) = %+v, want an error", file, p)
		}
	}
	if _, err := (certlog.Proof{Index: -1, Checkpoint: []byte(cp)}).Marshal(); err == nil {
		t.Error("Marshal took a negative index")
	}
	if _, err := (certlog.Proof{Checkpoint: []byte("x")}).Marshal(); err == nil {
		t.Error("Marshal took a checkpoint without a final newline")
	}
}
