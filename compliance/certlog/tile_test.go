package certlog_test

import (
	"bytes"
	"fmt"
	"testing"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/shortcode/shortcode/compliance/certlog"
)

// TestTilePath checks paths against c2sp.org/tlog-tiles: "index 1234067
// will be encoded as x001/x234/067".
func TestTilePath(t *testing.T) {
	tests := []struct {
		tile tlog.Tile
		path string
	}{
		{tlog.Tile{H: 8, L: 0, N: 1234067, W: 256}, "tile/0/x001/x234/067"},
		{tlog.Tile{H: 8, L: 0, N: 1234067, W: 1}, "tile/0/x001/x234/067.p/1"},
		{tlog.Tile{H: 8, L: -1, N: 1234067, W: 256}, "tile/entries/x001/x234/067"},
		{tlog.Tile{H: 8, L: -1, N: 1234067, W: 255}, "tile/entries/x001/x234/067.p/255"},
		{tlog.Tile{H: 8, L: 0, N: 0, W: 256}, "tile/0/000"},
		{tlog.Tile{H: 8, L: 0, N: 0, W: 112}, "tile/0/000.p/112"},
		{tlog.Tile{H: 8, L: 1, N: 5, W: 17}, "tile/1/005.p/17"},
		{tlog.Tile{H: 8, L: 2, N: 999, W: 256}, "tile/2/999"},
		{tlog.Tile{H: 8, L: 3, N: 1000, W: 256}, "tile/3/x001/000"},
		{tlog.Tile{H: 8, L: 63, N: 1000000, W: 256}, "tile/63/x001/x000/000"},
		{tlog.Tile{H: 8, L: -1, N: 272, W: 256}, "tile/entries/272"},
		{tlog.Tile{H: 8, L: 0, N: 9223372036854775, W: 3}, "tile/0/x009/x223/x372/x036/x854/775.p/3"},
	}
	for _, tt := range tests {
		if got := certlog.TilePath(tt.tile); got != tt.path {
			t.Errorf("TilePath(%+v) = %q, want %q", tt.tile, got, tt.path)
		}
		got, err := certlog.ParseTilePath(tt.path)
		if err != nil || got != tt.tile {
			t.Errorf("ParseTilePath(%q) = %+v, %v, want %+v", tt.path, got, err, tt.tile)
		}
	}
}

func TestParseTilePathRefuses(t *testing.T) {
	for _, path := range []string{
		"",
		"tile",
		"tile/",
		"tile/0",
		"tile/0/",
		"/tile/0/000",
		"tile/0/000/",
		"tile/8/0/000", // sumdb's form, with a height
		"tile/8/data/000",
		"tile/data/000",
		"tile/64/000",
		"tile/-1/000",
		"tile/00/000",
		"tile/+1/000",
		"tile/0/0",
		"tile/0/00",
		"tile/0/0000",
		"tile/0/x000",
		"tile/0/x001",
		"tile/0/x000/001", // a leading zero group
		"tile/0/001/002",
		"tile/0/x01/002",
		"tile/0/xx001/002",
		"tile/0/x1000/002",
		"tile/0/-01",
		"tile/0/+01",
		"tile/0/ 01",
		"tile/0/1e2",
		"tile/0/000.p",
		"tile/0/000.p/",
		"tile/0/000.p/0",
		"tile/0/000.p/256",
		"tile/0/000.p/01",
		"tile/0/000.p/-1",
		"tile/0/000.p/1/",
		"tile/0/000.p/1.p/1",
		"tile/0/x001.p/1/000",
		"tile/entries",
		"tile/entries/",
		"tile/entries/x000/001",
		"tile/entries/000.p/256",
		"tile/x/000",
		"tile/0/x009/x223/x372/x036/x854/x775/808", // 2^63 overflows
	} {
		if tile, err := certlog.ParseTilePath(path); err == nil {
			t.Errorf("ParseTilePath(%q) = %+v, want an error", path, tile)
		}
	}
}

// TestNewTiles checks the examples of c2sp.org/tlog-tiles: "a tree of size
// 70,000 will be represented by 273 full level 0 tiles, one partial level 0
// tile of width 112, one full level 1 tile, one partial level 1 tile of
// width 17, and one partial level 2 tile of width 1. Note that a tree of
// size 256 will be represented by a full level 0 tile and a partial level 1
// tile of width 1."
func TestNewTiles(t *testing.T) {
	// count describes tiles by level and width: "0:256" is a full level 0
	// tile, "entries:112" a partial entry bundle.
	count := func(tiles []tlog.Tile) map[string]int {
		m := make(map[string]int)
		for _, t := range tiles {
			l := fmt.Sprint(t.L)
			if t.L == -1 {
				l = "entries"
			}
			m[fmt.Sprintf("%s:%d", l, t.W)]++
		}
		return m
	}
	tests := []struct {
		old, new int64
		want     map[string]int
	}{
		{0, 70000, map[string]int{"0:256": 273, "0:112": 1, "entries:256": 273, "entries:112": 1, "1:256": 1, "1:17": 1, "2:1": 1}},
		{0, 256, map[string]int{"0:256": 1, "entries:256": 1, "1:1": 1}},
		{0, 0, map[string]int{}},
		{0, 1, map[string]int{"0:1": 1, "entries:1": 1}},
		{256, 257, map[string]int{"0:1": 1, "entries:1": 1}},
		{255, 256, map[string]int{"0:256": 1, "entries:256": 1, "1:1": 1}},
		{70000, 70000, map[string]int{}},
	}
	for _, tt := range tests {
		got := count(certlog.NewTiles(tt.old, tt.new))
		if fmt.Sprint(got) != fmt.Sprint(tt.want) {
			t.Errorf("NewTiles(%d, %d) = %v, want %v", tt.old, tt.new, got, tt.want)
		}
	}
	for _, tile := range certlog.NewTiles(0, 70000) {
		if !certlog.InTree(tile, 70000) {
			t.Errorf("tile %s of NewTiles(0, 70000) is not InTree", certlog.TilePath(tile))
		}
	}
}

func TestInTree(t *testing.T) {
	tile := func(l int, n int64, w int) tlog.Tile { return tlog.Tile{H: 8, L: l, N: n, W: w} }
	tests := []struct {
		tile tlog.Tile
		size int64
		want bool
	}{
		{tile(0, 0, 1), 0, false},
		{tile(0, 0, 1), 1, true},
		{tile(-1, 0, 1), 1, true},
		{tile(0, 0, 2), 1, false},
		{tile(0, 0, 256), 255, false},
		{tile(0, 0, 256), 256, true},
		{tile(0, 0, 112), 70000, true},
		{tile(0, 273, 112), 70000, true},
		{tile(0, 273, 113), 70000, false},
		{tile(-1, 273, 112), 70000, true},
		{tile(0, 274, 1), 70000, false},
		{tile(1, 0, 256), 65536, true},
		{tile(1, 0, 256), 65535, false},
		{tile(1, 1, 17), 70000, true},
		{tile(1, 1, 18), 70000, false},
		{tile(2, 0, 1), 70000, true},
		{tile(2, 0, 2), 70000, false},
		{tile(3, 0, 1), 70000, false},
		{tile(7, 0, 127), 1<<63 - 1, true},
		{tile(7, 0, 128), 1<<63 - 1, false},
		{tile(8, 0, 1), 1<<63 - 1, false},
		{tile(63, 0, 1), 1<<63 - 1, false},
		{tile(0, 1<<62, 1), 1<<63 - 1, false},
		{tlog.Tile{H: 7, L: 0, N: 0, W: 1}, 1, false},
		{tile(0, 0, 0), 1, false},
		{tile(0, -1, 1), 1, false},
		{tile(-2, 0, 1), 1, false},
	}
	for _, tt := range tests {
		if got := certlog.InTree(tt.tile, tt.size); got != tt.want {
			t.Errorf("InTree(%+v, %d) = %v, want %v", tt.tile, tt.size, got, tt.want)
		}
	}
}

// tileServer serves a log's tiles by path, as the HTTP routes will, to
// tlog's own tile client.
type tileServer struct {
	l    *memLog
	size int64
}

func (s tileServer) fetch(path string) ([]byte, error) {
	tile, err := certlog.ParseTilePath(path)
	if err != nil {
		return nil, err
	}
	if !certlog.InTree(tile, s.size) {
		return nil, fmt.Errorf("%s: not found", path)
	}
	if tile.L == -1 {
		return certlog.ReadEntryBundle(tile, s.l.readEntries)
	}
	return certlog.ReadHashTile(tile, s.l)
}

func (s tileServer) Height() int { return certlog.TileHeight }

func (s tileServer) ReadTiles(tiles []tlog.Tile) ([][]byte, error) {
	var data [][]byte
	for _, tile := range tiles {
		b, err := s.fetch(certlog.TilePath(tile))
		if err != nil {
			return nil, err
		}
		data = append(data, b)
	}
	return data, nil
}

func (s tileServer) SaveTiles([]tlog.Tile, [][]byte) {}

// TestTiles serves the tiles of a log of 1000 records to tlog's tile
// client, which checks each tile it reads against the tree's root: every
// record's inclusion proof is built from them, and every entry bundle
// holds the records whose hashes are in its level 0 tile.
func TestTiles(t *testing.T) {
	l, _ := newLog(t, 1000)
	for _, size := range []int64{1, 255, 256, 257, 1000} {
		root, err := tlog.TreeHash(size, l)
		if err != nil {
			t.Fatal(err)
		}
		srv := tileServer{l, size}
		hr := tlog.TileHashReader(tlog.Tree{N: size, Hash: root}, srv)
		for i := range size {
			p, err := tlog.ProveRecord(size, i, hr)
			if err != nil {
				t.Fatalf("size %d: ProveRecord(%d) from tiles: %v", size, i, err)
			}
			if err := tlog.CheckRecord(p, size, root, i, tlog.RecordHash(l.entries[i])); err != nil {
				t.Fatalf("size %d: record %d: %v", size, i, err)
			}
		}
		for _, tile := range certlog.NewTiles(0, size) {
			if tile.L != -1 {
				continue
			}
			b, err := srv.fetch(certlog.TilePath(tile))
			if err != nil {
				t.Fatal(err)
			}
			entries, err := certlog.ParseEntryBundle(tile, b)
			if err != nil {
				t.Fatal(err)
			}
			level0 := tile
			level0.L = 0
			hashes, err := srv.fetch(certlog.TilePath(level0))
			if err != nil {
				t.Fatal(err)
			}
			for i, e := range entries {
				h := tlog.RecordHash(e)
				if !bytes.Equal(h[:], hashes[i*tlog.HashSize:(i+1)*tlog.HashSize]) {
					t.Errorf("size %d: %s: entry %d does not hash to its level 0 tile", size, certlog.TilePath(tile), i)
				}
			}
		}
	}
}

func TestEntryBundle(t *testing.T) {
	entries := [][]byte{[]byte("a"), {}, bytes.Repeat([]byte("x"), 300)}
	read := func(start, end int64) ([][]byte, error) { return entries[start:end], nil }
	tile := tlog.Tile{H: 8, L: -1, N: 0, W: 3}
	b, err := certlog.ReadEntryBundle(tile, read)
	if err != nil {
		t.Fatal(err)
	}
	want := append([]byte{0, 1, 'a', 0, 0, 1, 44}, entries[2]...)
	if !bytes.Equal(b, want) {
		t.Fatalf("ReadEntryBundle = %x, want %x", b, want)
	}
	got, err := certlog.ParseEntryBundle(tile, b)
	if err != nil || len(got) != 3 || !bytes.Equal(got[0], entries[0]) || len(got[1]) != 0 || !bytes.Equal(got[2], entries[2]) {
		t.Errorf("ParseEntryBundle = %q, %v", got, err)
	}

	for _, tt := range []struct {
		name string
		tile tlog.Tile
		data []byte
	}{
		{"empty", tile, nil},
		{"fewer", tile, b[:3]},
		{"more", tlog.Tile{H: 8, L: -1, W: 2}, b},
		{"truncated length", tile, b[:len(b)-len(entries[2])-1]},
		{"truncated entry", tile, b[:len(b)-1]},
		{"trailing byte", tile, append(bytes.Clone(b), 0)},
		{"hash tile", tlog.Tile{H: 8, L: 0, W: 3}, b},
	} {
		if got, err := certlog.ParseEntryBundle(tt.tile, tt.data); err == nil {
			t.Errorf("%s: ParseEntryBundle = %q, want an error", tt.name, got)
		}
	}

	if _, err := certlog.ReadEntryBundle(tlog.Tile{H: 8, L: -1, W: 1}, func(int64, int64) ([][]byte, error) {
		return [][]byte{make([]byte, 65536)}, nil
	}); err == nil {
		t.Error("ReadEntryBundle took an entry of 65536 bytes")
	}
	if _, err := certlog.ReadEntryBundle(tlog.Tile{H: 8, L: -1, W: 2}, func(int64, int64) ([][]byte, error) {
		return [][]byte{{1}}, nil
	}); err == nil {
		t.Error("ReadEntryBundle took 1 entry for a tile of width 2")
	}
	if _, err := certlog.ReadEntryBundle(tlog.Tile{H: 8, L: 0, W: 1}, read); err == nil {
		t.Error("ReadEntryBundle read a hash tile")
	}
	if _, err := certlog.ReadHashTile(tlog.Tile{H: 8, L: -1, W: 1}, new(memLog)); err == nil {
		t.Error("ReadHashTile read an entry bundle")
	}
}
