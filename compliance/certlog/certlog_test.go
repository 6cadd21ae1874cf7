package certlog_test

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/certlog (never the test vectors)")

// testdata is shared with the rest of the module: the vectors and the test
// key describe the log's formats, not this package's internals.
var testdata = filepath.Join("..", "..", "testdata", "certlog")

// golden compares got with testdata/certlog/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join(testdata, name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		g, w := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
		i := 0
		for i < len(g) && i < len(w) && g[i] == w[i] {
			i++
		}
		line := func(l []string) string {
			if i < len(l) {
				return fmt.Sprintf("%.200q", l[i])
			}
			return "end of file"
		}
		t.Errorf("%s differs from the output (run go test -update and review the diff): line %d is %s, want %s",
			path, i+1, line(g), line(w))
	}
}

// testKey returns the test log's signer and verifier, named after its
// origin, "shortcode.example/log". The key is public: tests only.
func testKey(t testing.TB) (note.Signer, note.Verifier) {
	t.Helper()
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join(testdata, name))
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(string(b))
	}
	s, err := note.NewSigner(read("test.key"))
	if err != nil {
		t.Fatal(err)
	}
	v, err := note.NewVerifier(read("test.vkey"))
	if err != nil {
		t.Fatal(err)
	}
	return s, v
}
