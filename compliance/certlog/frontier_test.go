package certlog

import (
	"fmt"
	"math/bits"
	"testing"

	"golang.org/x/mod/sumdb/tlog"
)

// allHashes keeps every stored hash, as the log's storage does.
type allHashes []tlog.Hash

func (a allHashes) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for i, x := range indexes {
		out[i] = a[x]
	}
	return out, nil
}

// TestFrontier checks that the frontier gives each tree the hash that a
// store of all its hashes gives, keeping one hash per level at most.
func TestFrontier(t *testing.T) {
	var f frontier
	var all allHashes
	for n := range int64(1100) {
		data := fmt.Appendf(nil, "record %d", n)
		hs, err := tlog.StoredHashes(n, data, all)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, hs...)
		if err := f.add(n, tlog.RecordHash(data)); err != nil {
			t.Fatalf("add(%d): %v", n, err)
		}
		want, _ := tlog.TreeHash(n+1, all)
		got, err := tlog.TreeHash(n+1, &f)
		if err != nil || got != want {
			t.Fatalf("size %d: TreeHash = %v, %v, want %v", n+1, got, err, want)
		}
		if len(f.hashes) > bits.Len64(uint64(n+1)) {
			t.Fatalf("size %d: %d hashes kept", n+1, len(f.hashes))
		}
	}
	if err := f.add(5, tlog.Hash{}); err == nil {
		t.Error("add out of order succeeded")
	}
}
