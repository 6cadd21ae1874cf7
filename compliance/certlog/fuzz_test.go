package certlog_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shortcode/shortcode/compliance/certlog"
)

// The parsers accept only canonical input: whatever parses encodes back to
// the same bytes. Run longer with e.g. go test -fuzz FuzzParse ./compliance/certlog/.

func FuzzParse(f *testing.F) {
	for _, v := range readVectors(f) {
		f.Add([]byte(v.Record))
		f.Add([]byte(strings.Replace(v.Record, "amount", "amount 0", 1)))
	}
	f.Add([]byte(certlog.RecordVersion + "\n"))
	f.Add([]byte("program a%20b%25\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := certlog.Parse(b)
		if err != nil {
			return
		}
		again, err := r.Marshal()
		if err != nil {
			t.Fatalf("Parse(%q) = %+v, which Marshal refuses: %v", b, r, err)
		}
		if !bytes.Equal(again, b) {
			t.Fatalf("Marshal(Parse(%q)) = %q", b, again)
		}
	})
}

func FuzzParseCheckpoint(f *testing.F) {
	b, err := os.ReadFile(filepath.Join(testdata, "checkpoint-1000"))
	if err != nil {
		f.Fatal(err)
	}
	text, _, _ := strings.Cut(string(b), "\n\n")
	f.Add(text + "\n")
	f.Add(text + "\nextension\n")
	f.Add("o\n0\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n")
	f.Fuzz(func(t *testing.T, text string) {
		c, err := certlog.ParseCheckpoint(text)
		if err != nil {
			return
		}
		again, err := c.Text()
		if err != nil || again != text {
			t.Fatalf("Text(ParseCheckpoint(%q)) = %q, %v", text, again, err)
		}
	})
}

func FuzzParseProof(f *testing.F) {
	b, err := os.ReadFile(filepath.Join(testdata, "record-7.tlog-proof"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add([]byte("c2sp.org/tlog-proof@v1\nindex 0\n\nx\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := certlog.ParseProof(b)
		if err != nil {
			return
		}
		again, err := p.Marshal()
		if err != nil || !bytes.Equal(again, b) {
			t.Fatalf("Marshal(ParseProof(%q)) = %q, %v", b, again, err)
		}
	})
}

func FuzzParseTilePath(f *testing.F) {
	for _, s := range []string{"tile/0/x001/x234/067", "tile/entries/000.p/7", "tile/63/999", "tile/1/x001/000.p/255"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, path string) {
		tile, err := certlog.ParseTilePath(path)
		if err != nil {
			return
		}
		if again := certlog.TilePath(tile); again != path {
			t.Fatalf("TilePath(ParseTilePath(%q)) = %q", path, again)
		}
	})
}
