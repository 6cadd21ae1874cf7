package certlog

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/tlog"
)

// TileHeight is the height of c2sp.org/tlog-tiles tiles: a full tile holds
// 256 hashes, a full entry bundle 256 entries.
const TileHeight = 8

// TileWidth is the width of a full tile.
const TileWidth = 1 << TileHeight

// maxEntry is the longest entry a bundle can hold (its length is a uint16).
const maxEntry = math.MaxUint16

// Tiles are tlog.Tile values of height TileHeight. As in tlog, level -1
// stands for entries: the entry bundle with the records whose leaf hashes
// are in the level 0 tile of the same N and W.

// TilePath returns the path of tile t under the log's prefix, in the form
// of c2sp.org/tlog-tiles: tile/<L>/<N>[.p/<W>] for hashes and
// tile/entries/<N>[.p/<W>] for entries, where N is written in groups of
// three digits, all but the last prefixed with "x" (1234067 is
// x001/x234/067), and .p/<W> marks a partial tile of width W.
//
// This differs from tlog.Tile.Path, which writes the height and names
// entries "data". t must be a valid tile of height TileHeight.
func TilePath(t tlog.Tile) string {
	var b strings.Builder
	b.WriteString("tile/")
	if t.L == -1 {
		b.WriteString("entries")
	} else {
		b.WriteString(strconv.Itoa(t.L))
	}
	// Groups of three digits, most significant first.
	var groups []int64
	for n := t.N; ; n /= 1000 {
		groups = append(groups, n%1000)
		if n < 1000 {
			break
		}
	}
	for i := len(groups) - 1; i >= 0; i-- {
		b.WriteByte('/')
		if i > 0 {
			b.WriteByte('x')
		}
		fmt.Fprintf(&b, "%03d", groups[i])
	}
	if t.W < TileWidth {
		fmt.Fprintf(&b, ".p/%d", t.W)
	}
	return b.String()
}

// ParseTilePath parses a path of the form returned by TilePath, relative to
// the log's prefix. It accepts only that form: one tile has one path.
func ParseTilePath(path string) (tlog.Tile, error) {
	bad := func() (tlog.Tile, error) {
		return tlog.Tile{}, fmt.Errorf("certlog: malformed tile path %.80q", path)
	}
	t := tlog.Tile{H: TileHeight, W: TileWidth}
	rest, ok := strings.CutPrefix(path, "tile/")
	if !ok {
		return bad()
	}
	level, rest, _ := strings.Cut(rest, "/")
	if level == "entries" {
		t.L = -1
	} else {
		l, ok := decimal(level)
		if !ok || l > 63 {
			return bad()
		}
		t.L = int(l)
	}
	if n, w, ok := strings.Cut(rest, ".p/"); ok {
		ww, ok := decimal(w)
		if !ok || ww < 1 || ww >= TileWidth {
			return bad()
		}
		t.W, rest = int(ww), n
	}
	groups := strings.Split(rest, "/")
	for i, g := range groups {
		last := i == len(groups)-1
		if !last {
			if g, ok = strings.CutPrefix(g, "x"); !ok {
				return bad()
			}
			if i == 0 && g == "000" {
				return bad() // a leading zero group
			}
		}
		if len(g) != 3 || g[0] < '0' || g[0] > '9' {
			return bad()
		}
		d, err := strconv.Atoi(g)
		if err != nil || t.N > (math.MaxInt64-int64(d))/1000 {
			return bad()
		}
		t.N = t.N*1000 + int64(d)
	}
	return t, nil
}

// decimal parses a non-negative decimal without sign or leading zeroes.
func decimal(s string) (int64, bool) {
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil && n >= 0 && s == strconv.FormatInt(n, 10)
}

// InTree reports whether a tree of the given size holds all of tile t, so
// that t can be served. A tile once in a tree never changes.
func InTree(t tlog.Tile, size int64) bool {
	if !valid(t) || size < 0 {
		return false
	}
	// The tile's hashes at level 8L end at (N*256 + W) << 8L records.
	end := t.N*TileWidth + int64(t.W)
	shift := TileHeight * max(t.L, 0)
	return shift < 63 && end <= size>>shift
}

// valid reports whether t is a tile or entry bundle whose indexes fit in
// an int64.
func valid(t tlog.Tile) bool {
	return t.H == TileHeight && -1 <= t.L && t.L <= 63 && 1 <= t.W && t.W <= TileWidth &&
		0 <= t.N && t.N <= (math.MaxInt64-TileWidth)/TileWidth
}

// NewTiles returns the tiles and entry bundles that a tree of size newSize
// has and one of size oldSize does not: those to publish when the log grows.
// The entry bundle of each level 0 tile follows it.
func NewTiles(oldSize, newSize int64) []tlog.Tile {
	var tiles []tlog.Tile
	for _, t := range tlog.NewTiles(TileHeight, oldSize, newSize) {
		tiles = append(tiles, t)
		if t.L == 0 {
			t.L = -1
			tiles = append(tiles, t)
		}
	}
	return tiles
}

// ReadHashTile returns the contents of hash tile t, its hashes read from r.
func ReadHashTile(t tlog.Tile, r tlog.HashReader) ([]byte, error) {
	if !valid(t) || t.L < 0 {
		return nil, fmt.Errorf("certlog: not a hash tile: %+v", t)
	}
	return tlog.ReadTileData(t, r)
}

// ReadEntryBundle returns the contents of entry bundle t: each entry as a
// big-endian uint16 length and its bytes. read returns the log's entries
// with indexes [start, end).
func ReadEntryBundle(t tlog.Tile, read func(start, end int64) ([][]byte, error)) ([]byte, error) {
	if !valid(t) || t.L != -1 {
		return nil, fmt.Errorf("certlog: not an entry bundle: %+v", t)
	}
	start := t.N * TileWidth
	entries, err := read(start, start+int64(t.W))
	if err != nil {
		return nil, err
	}
	if len(entries) != t.W {
		return nil, fmt.Errorf("certlog: entry bundle %s: read %d entries, want %d", TilePath(t), len(entries), t.W)
	}
	var b []byte
	for i, e := range entries {
		if len(e) > maxEntry {
			return nil, fmt.Errorf("certlog: entry %d: %d bytes, more than a bundle holds", start+int64(i), len(e))
		}
		b = binary.BigEndian.AppendUint16(b, uint16(len(e)))
		b = append(b, e...)
	}
	return b, nil
}

// ParseEntryBundle returns the entries of bundle t from its contents.
func ParseEntryBundle(t tlog.Tile, data []byte) ([][]byte, error) {
	if !valid(t) || t.L != -1 {
		return nil, fmt.Errorf("certlog: not an entry bundle: %+v", t)
	}
	entries := make([][]byte, 0, t.W)
	for len(data) > 0 {
		if len(entries) == t.W {
			return nil, errors.New("certlog: entry bundle: data after the last entry")
		}
		if len(data) < 2 {
			return nil, errors.New("certlog: entry bundle: truncated length")
		}
		n := int(binary.BigEndian.Uint16(data))
		if len(data) < 2+n {
			return nil, fmt.Errorf("certlog: entry bundle: entry %d truncated", len(entries))
		}
		entries = append(entries, data[2:2+n:2+n])
		data = data[2+n:]
	}
	if len(entries) != t.W {
		return nil, fmt.Errorf("certlog: entry bundle: %d entries, want %d", len(entries), t.W)
	}
	return entries, nil
}
